// Task detail: input (payload + inputs from dependencies), output, error (type, retried or not),
// attempts, transcript / progress steps when the executor recorded them, delegated children,
// a trace link (Settings → trace URL template) and the actions: cancel, retry (requeue).
import { get, post } from './api.js';
import { ctx } from './ctx.js';
import { onEvent, recent } from './live.js';
import { settings } from './settings.js';
import { h, clear, badge, duration, time, json, table, row, text, ago } from './ui.js';

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

export function render(id) {
  let t = null;
  let timer = null;
  const body = h('div', { id: 'task-body' }, h('p', { class: 'muted' }, 'loading…'));
  const el = h('section', { id: 'task', dataset: { taskId: id } }, body);

  async function load() {
    try {
      t = await get('/v1/tasks/' + encodeURIComponent(id));
    } catch (e) {
      clear(body).appendChild(
        h('p', { class: 'error', role: 'alert' }, 'Could not load task ' + id + ': ' + e.message),
      );
      return;
    }
    let children = [];
    try {
      const tree = await get('/v1/tasks/' + encodeURIComponent(id) + '/tree');
      children = treeChildren(tree, id);
    } catch {
      children = []; // no delegation tree API on this server, or no children
    }
    try {
      // The live transcript (claude agents): the last steps the worker streamed for this task.
      const p = await get('/v1/tasks/' + encodeURIComponent(id) + '/progress');
      if (Array.isArray(p.steps) && p.steps.length) t.transcript = p.steps;
    } catch {
      /* no transcript for this task */
    }
    draw(children);
    el.dataset.status = t.status;
  }

  function draw(children) {
    const now = Date.now();
    const back = t.workflowId
      ? h('a', { href: '#/run/' + encodeURIComponent(t.workflowId) }, '← workflow')
      : h('a', { href: '#/runs' }, '← runs');
    const maxAttempts =
      (t.retry && typeof t.retry.maxRetries === 'number' ? t.retry.maxRetries : 0) + 1;
    const ran = t.startedAt
      ? (t.completedAt ? Date.parse(t.completedAt) : now) - Date.parse(t.startedAt)
      : undefined;
    const facts = [
      ['id', h('code', {}, t.id)],
      ['status', badge(t.status)],
      ['capability', t.capability],
      ['agent', t.agentId || (t.status === 'RUNNING' ? 'assigned, not reported yet' : '-')],
      ['attempt', t.attempt + 1 + ' of ' + maxAttempts],
      ['priority', String(t.priority)],
      ['created', time(t.createdAt)],
      ['started', time(t.startedAt)],
      ['finished', time(t.completedAt)],
      ['ran for', duration(ran)],
    ];
    if (t.workflowId)
      facts.splice(1, 0, [
        'workflow',
        h('a', { href: '#/run/' + encodeURIComponent(t.workflowId) }, t.workflowId),
      ]);
    if (t.reason) facts.push(['reason', t.reason]);
    if (t.status === 'READY' && !t.agentId)
      facts.push([
        'waiting',
        'for an agent with capability ' +
          t.capability +
          ' since ' +
          ago(t.updatedAt || t.createdAt, now),
      ]);
    if (t.parentTaskId)
      facts.push([
        'delegated by',
        h('a', { href: '#/task/' + encodeURIComponent(t.parentTaskId) }, t.parentTaskId),
      ]);
    if (t.cost !== undefined)
      facts.push(['cost', typeof t.cost === 'object' ? JSON.stringify(t.cost) : String(t.cost)]);
    const traceUrl = traceLink(t);
    if (traceUrl)
      facts.push([
        'trace',
        h(
          'a',
          { href: traceUrl, target: '_blank', rel: 'noopener noreferrer', id: 'trace-link' },
          'open trace',
        ),
      ]);

    const actions = h('div', { class: 'actions' });
    if (ctx.canAct) {
      if (!TERMINAL.has(t.status))
        actions.appendChild(
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              id: 'cancel-task',
              onclick: async () => {
                if (
                  await ctx.act(
                    'Cancel task ' + (t.ref || t.id) + '? A running agent is told to abort.',
                    'Cancel task',
                    () => post('/v1/tasks/' + encodeURIComponent(t.id) + '/cancel'),
                  )
                )
                  load();
              },
            },
            'Cancel task',
          ),
        );
      if (t.status === 'FAILED')
        actions.appendChild(
          h(
            'button',
            {
              type: 'button',
              id: 'retry-task',
              onclick: async () => {
                if (
                  await ctx.act(
                    'Run task ' +
                      (t.ref || t.id) +
                      ' again from attempt 1 (requeue from the dead-letter list)? Dependents it failed are revived.',
                    'Retry task',
                    () => post('/v1/queue/dead-letter/' + encodeURIComponent(t.id) + '/requeue'),
                  )
                )
                  load();
              },
            },
            'Retry (requeue)',
          ),
        );
    }

    const sections = [
      back,
      h(
        'h2',
        {},
        'Task ',
        h('span', { class: 'name' }, t.ref || t.description || t.id.slice(0, 8)),
        ' ',
        badge(t.status),
      ),
      actions,
      h(
        'dl',
        { class: 'facts' },
        facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v instanceof Node ? v : text(v))]),
      ),
    ];
    if (t.error) sections.push(errorBox(t, maxAttempts));
    sections.push(h('h3', {}, 'Input'), h('h4', {}, 'payload'), json(t.payload));
    if (t.inputs && Object.keys(t.inputs).length)
      sections.push(h('h4', {}, 'inputs from dependencies'), json(t.inputs));
    if (t.dependsOn.length)
      sections.push(
        h(
          'p',
          {},
          'depends on: ',
          t.dependsOn.map((d, i) => [
            i ? ', ' : '',
            h('a', { href: '#/task/' + encodeURIComponent(d) }, d.slice(0, 8)),
          ]),
        ),
      );
    sections.push(
      h('h3', {}, 'Output'),
      t.result === undefined
        ? h('p', { class: 'muted' }, TERMINAL.has(t.status) ? 'no result' : 'not finished')
        : json(t.result),
    );
    sections.push(h('h3', {}, 'Attempts'), attempts(t, now));
    const steps = t.transcript || t.progress || t.steps || t.logs;
    if (Array.isArray(steps) && steps.length)
      sections.push(h('h3', {}, 'Transcript'), transcript(steps));
    if (children.length)
      sections.push(
        h('h3', {}, 'Delegated tasks'),
        h('ul', { class: 'tree' }, children.map(childItem)),
      );
    clear(body).append(...sections);
  }

  const off = onEvent((e) => {
    if (e.taskId !== id || timer) return;
    timer = setTimeout(() => {
      timer = null;
      load();
    }, 300);
  });
  load();
  return {
    el,
    cleanup: () => {
      off();
      clearTimeout(timer);
    },
  };
}

function errorBox(t, maxAttempts) {
  const e = t.error;
  let fate;
  if (t.status === 'FAILED')
    fate = e.retryable
      ? 'Retries spent (' + maxAttempts + ' attempts): the task is in the dead-letter list.'
      : 'Not retried: a ' + e.type + ' error is permanent. The task is in the dead-letter list.';
  else if (t.retryAt && !TERMINAL.has(t.status))
    fate =
      'Will be retried at ' +
      new Date(t.retryAt).toLocaleTimeString() +
      ' (' +
      ago(t.retryAt) +
      '), attempt ' +
      (t.attempt + 1) +
      ' of ' +
      maxAttempts +
      '.';
  else fate = e.retryable ? 'Retryable.' : 'Not retryable.';
  return h(
    'div',
    { class: 'error-box', id: 'task-error', role: 'alert' },
    h('h3', {}, 'Error'),
    h(
      'p',
      {},
      h('strong', { class: 'error-type' }, e.type),
      ': ',
      h('span', { class: 'error-message' }, e.message),
    ),
    h('p', { class: 'fate' }, fate),
    e.details !== undefined ? json(e.details) : null,
  );
}

/** The record keeps the current attempt; earlier ones come from the live feed while it was open. */
function attempts(t, now) {
  // The record's own history (every attempt that ended, kept by the queue) when it has one.
  if (Array.isArray(t.attempts) && t.attempts.length) return recordedAttempts(t, now);
  const seen = recent.filter(
    (e) =>
      e.taskId === t.id && /^task\.(running|retrying|completed|failed|cancelled)$/.test(e.type),
  );
  const rows = [];
  let open = null;
  for (const e of seen) {
    const d = e.data || {};
    if (e.type === 'task.running') {
      open = {
        attempt: d.attempt !== undefined ? d.attempt + 1 : rows.length + 1,
        agent: e.agentId,
        worker: d.workerId,
        start: e.at,
      };
    } else {
      const err = d.error
        ? (d.error.type || '') + (d.error.message ? ': ' + d.error.message : '')
        : d.reason;
      rows.push(
        row({}, [
          String(open ? open.attempt : rows.length + 1),
          (open && open.agent) || e.agentId,
          open && open.worker,
          open ? time(open.start) : '-',
          time(e.at),
          e.type.slice(5) + (err ? ' — ' + err : ''),
        ]),
      );
      open = null;
    }
  }
  if (rows.length === 0 || open) {
    const outcome = TERMINAL.has(t.status)
      ? t.status.toLowerCase() + (t.error ? ' — ' + t.error.type + ': ' + t.error.message : '')
      : t.status === 'RUNNING'
        ? 'running for ' + duration(now - Date.parse(t.startedAt || t.updatedAt))
        : t.status.toLowerCase();
    rows.push(
      row({ class: 'current' }, [
        String(t.attempt + 1),
        t.agentId,
        t.workerId,
        time(t.startedAt),
        time(t.completedAt),
        outcome,
      ]),
    );
  }
  return h(
    'div',
    {},
    table('Attempts', ['#', 'agent', 'worker', 'start', 'end', 'outcome'], rows, {
      id: 'attempts',
    }),
    h(
      'p',
      { class: 'muted small' },
      'Earlier attempts are listed when this browser saw them on the live feed.',
    ),
  );
}

function recordedAttempts(t, now) {
  const rows = t.attempts.map((a) =>
    row({}, [
      String(a.attempt + 1),
      a.agentId,
      a.agentId && a.agentId.includes('@') ? a.agentId.split('@')[1] : '',
      time(a.startedAt),
      time(a.endedAt),
      a.outcome + (a.errorType ? ' — ' + a.errorType : ''),
    ]),
  );
  if (!TERMINAL.has(t.status)) {
    rows.push(
      row({ class: 'current' }, [
        String(t.attempt + 1),
        t.agentId,
        t.agentId && t.agentId.includes('@') ? t.agentId.split('@')[1] : '',
        time(t.startedAt),
        '',
        t.status === 'RUNNING'
          ? 'running for ' + duration(now - Date.parse(t.startedAt || t.updatedAt))
          : t.status.toLowerCase(),
      ]),
    );
  }
  return table('Attempts', ['#', 'agent', 'worker', 'start', 'end', 'outcome'], rows, {
    id: 'attempts',
  });
}

function transcript(steps) {
  return h(
    'ol',
    { class: 'transcript' },
    steps.map((st) => {
      if (typeof st === 'string') return h('li', {}, st);
      const label =
        st.summary || st.message || st.text || st.step || st.content || JSON.stringify(st);
      return h(
        'li',
        {},
        st.at ? h('time', { datetime: st.at }, String(st.at).slice(11, 19) + ' ') : null,
        st.kind || st.type ? h('strong', {}, (st.kind || st.type) + ' ') : null,
        typeof label === 'string' ? label : JSON.stringify(label),
      );
    }),
  );
}

function treeChildren(tree, id) {
  if (!tree) return [];
  const node = tree.task && tree.task.id === id ? tree : tree;
  return Array.isArray(node.children)
    ? node.children
    : Array.isArray(tree.items)
      ? tree.items.filter((x) => x.id !== id)
      : [];
}

function childItem(c) {
  const t = c.task || c;
  // What GET /v1/tasks/{id}/tree gives per node: capability, agent, timings, cost.
  const ran =
    t.startedAt && t.completedAt ? Date.parse(t.completedAt) - Date.parse(t.startedAt) : undefined;
  const usd = (x) => (x && x.usd > 0 ? '$' + x.usd.toFixed(4) : '');
  const cost =
    Array.isArray(c.children) && c.children.length && usd(t.treeCost) !== usd(t.cost)
      ? [usd(t.cost), usd(t.treeCost) && '(tree ' + usd(t.treeCost) + ')'].filter(Boolean).join(' ')
      : usd(t.cost);
  const facts = [t.capability, t.agentId, ran !== undefined ? duration(ran) : '', cost].filter(
    Boolean,
  );
  return h(
    'li',
    {},
    h('a', { href: '#/task/' + encodeURIComponent(t.id) }, t.ref || t.description || t.id),
    ' ',
    badge(t.status),
    facts.length ? h('span', { class: 'muted tree-facts' }, ' ' + facts.join(' · ')) : null,
    Array.isArray(c.children) && c.children.length ? h('ul', {}, c.children.map(childItem)) : null,
  );
}

function traceLink(t) {
  const tpl = settings.traceUrlTemplate;
  if (!tpl) return null;
  const traceId =
    t.traceId || (typeof t.traceparent === 'string' ? t.traceparent.split('-')[1] : '') || '';
  if (tpl.includes('{traceId}') && !traceId) return null;
  const url = tpl
    .replaceAll('{taskId}', encodeURIComponent(t.id))
    .replaceAll('{workflowId}', encodeURIComponent(t.workflowId || ''))
    .replaceAll('{traceId}', encodeURIComponent(traceId));
  return /^https?:\/\//.test(url) ? url : null;
}
