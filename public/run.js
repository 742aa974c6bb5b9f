// Run detail: a workflow's DAG (laid out by dagre), a Gantt timeline of its tasks' attempts and a
// task table; live updates recolour nodes at once and refresh the details shortly after.
import dagre from './dagre.js';
import { get, post } from './api.js';
import { ctx } from './ctx.js';
import { onEvent, recent } from './live.js';
import { h, s, clear, badge, duration, time, table, row } from './ui.js';

const NODE_W = 150;
const NODE_H = 38;
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
/** Status a live event implies, before the refetch confirms it. */
const EVENT_STATUS = {
  'task.ready': 'READY',
  'task.running': 'RUNNING',
  'task.retrying': 'READY',
  'task.completed': 'COMPLETED',
  'task.failed': 'FAILED',
  'task.cancelled': 'CANCELLED',
};
const TABLE_ROWS = 200;

export function render(id) {
  let data = null;
  let laidOut = 0;
  let timer = null;
  let showAll = false;
  const head = h('div', { id: 'run-head' });
  const dag = h('div', { class: 'dag', id: 'dag', role: 'group', 'aria-label': 'Task graph' });
  const gantt = h('div', { class: 'gantt scroll-x', id: 'gantt' });
  const tasks = h('div', { id: 'run-tasks' });
  const el = h(
    'section',
    { id: 'run', dataset: { workflowId: id } },
    h('p', {}, h('a', { href: '#/runs' }, '← runs')),
    head,
    h('h3', {}, 'Graph'),
    h('p', { class: 'legend muted' }, legend()),
    dag,
    h('h3', {}, 'Timeline'),
    gantt,
    h('h3', {}, 'Tasks'),
    tasks,
  );

  async function load() {
    try {
      data = await get('/v1/workflows/' + encodeURIComponent(id));
    } catch (e) {
      clear(head).appendChild(
        h(
          'p',
          { class: 'error', role: 'alert' },
          'Could not load workflow ' + id + ': ' + e.message,
        ),
      );
      return;
    }
    const t0 = performance.now();
    renderHead();
    if (laidOut !== data.tasks.length) {
      layout();
      laidOut = data.tasks.length;
    } else recolour();
    renderGantt();
    renderTasks();
    el.dataset.renderMs = String(Math.round(performance.now() - t0));
    el.dataset.ready = 'true';
    performance.mark('console:run-rendered');
  }

  function renderHead() {
    const wf = data.workflow;
    const end = wf.finishedAt ? Date.parse(wf.finishedAt) : Date.now();
    const actions = h('div', { class: 'actions' });
    if (ctx.canAct) {
      if (wf.status === 'RUNNING')
        actions.appendChild(
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              id: 'cancel-workflow',
              onclick: async () => {
                const r = await ctx.act(
                  'Cancel every unfinished task of workflow ' + (wf.name || wf.id) + '?',
                  'Cancel workflow',
                  () => post('/v1/workflows/' + encodeURIComponent(wf.id) + '/cancel'),
                );
                if (r) load();
              },
            },
            'Cancel workflow',
          ),
        );
      actions.appendChild(
        h(
          'button',
          {
            type: 'button',
            id: 'rerun-workflow',
            onclick: async () => {
              const r = await ctx.act(
                'Submit workflow ' +
                  (wf.name || wf.id) +
                  ' again: same tasks and payloads, a new run?',
                'Re-run',
                () => post('/v1/workflows', rerunBody(wf, data.tasks)),
              );
              if (r && r.workflow) location.hash = '#/run/' + encodeURIComponent(r.workflow.id);
            },
          },
          'Re-run',
        ),
      );
    }
    clear(head).append(
      h(
        'h2',
        {},
        'Workflow ',
        h('span', { class: 'name' }, wf.name || wf.id.slice(0, 8)),
        ' ',
        badge(wf.status),
      ),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'id'),
        h('dd', {}, h('code', {}, wf.id)),
        h('dt', {}, 'created'),
        h('dd', {}, time(wf.createdAt)),
        h('dt', {}, 'duration'),
        h('dd', {}, duration(end - Date.parse(wf.createdAt))),
        h('dt', {}, 'tasks'),
        h(
          'dd',
          { id: 'run-counts' },
          wf.total +
            ' total, ' +
            wf.completed +
            ' completed, ' +
            wf.failed +
            ' failed, ' +
            wf.cancelled +
            ' cancelled',
        ),
      ),
      actions,
    );
  }

  function layout() {
    const n = data.tasks.length;
    const g = new dagre.graphlib.Graph();
    // network-simplex gives the tidiest ranks but is slow past a few hundred nodes (38 s for
    // 1,000 measured in node); longest-path without the optimal-order pass lays 1,000 in < 1 s.
    const big = n > 150;
    g.setGraph({
      rankdir: 'LR',
      nodesep: 12,
      ranksep: 48,
      marginx: 8,
      marginy: 8,
      ranker: big ? 'longest-path' : 'network-simplex',
    });
    g.setDefaultEdgeLabel(() => ({}));
    const ids = new Set(data.tasks.map((t) => t.id));
    for (const t of data.tasks) g.setNode(t.id, { width: NODE_W, height: NODE_H });
    for (const t of data.tasks) {
      for (const d of t.dependsOn) if (ids.has(d)) g.setEdge(d, t.id);
      if (t.parentTaskId && ids.has(t.parentTaskId))
        g.setEdge(t.parentTaskId, t.id, { delegated: true });
    }
    dagre.layout(g, { disableOptimalOrderHeuristic: big });
    const gl = g.graph();
    const svg = s('svg', {
      width: Math.ceil(gl.width),
      height: Math.ceil(gl.height),
      viewBox: '0 0 ' + Math.ceil(gl.width) + ' ' + Math.ceil(gl.height),
      role: 'img',
      'aria-label': 'Dependency graph of ' + n + ' tasks',
    });
    svg.appendChild(
      s(
        'defs',
        {},
        s(
          'marker',
          {
            id: 'arrow',
            viewBox: '0 0 10 10',
            refX: 10,
            refY: 5,
            markerWidth: 6,
            markerHeight: 6,
            orient: 'auto-start-reverse',
          },
          s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }),
        ),
      ),
    );
    const edges = s('g', { class: 'edges' });
    for (const e of g.edges()) {
      const pts = g.edge(e).points;
      edges.appendChild(
        s('path', {
          class: g.edge(e).delegated ? 'edge delegated' : 'edge',
          d: 'M' + pts.map((p) => p.x.toFixed(1) + ',' + p.y.toFixed(1)).join('L'),
          'marker-end': 'url(#arrow)',
        }),
      );
    }
    svg.appendChild(edges);
    const nodes = s('g', { class: 'nodes' });
    for (const t of data.tasks) {
      const p = g.node(t.id);
      const label = (t.ref || t.id).slice(0, 20);
      const node = s(
        'a',
        {
          href: '#/task/' + encodeURIComponent(t.id),
          class: 'node st-' + t.status.toLowerCase(),
          'data-task-id': t.id,
          'data-status': t.status,
          'aria-label': label + ': ' + t.status + (t.error ? ', ' + t.error.type : ''),
        },
        s('title', {
          text:
            (t.ref || t.id) +
            ' — ' +
            t.capability +
            ' — ' +
            t.status +
            (t.error ? ' — ' + t.error.type + ': ' + t.error.message : ''),
        }),
        s('rect', {
          x: p.x - NODE_W / 2,
          y: p.y - NODE_H / 2,
          width: NODE_W,
          height: NODE_H,
          rx: 6,
        }),
        s('text', { x: p.x, y: p.y - 3, 'text-anchor': 'middle', class: 'n1', text: label }),
        s('text', {
          x: p.x,
          y: p.y + 12,
          'text-anchor': 'middle',
          class: 'n2',
          text: t.status.toLowerCase() + ' · ' + t.capability.slice(0, 12),
        }),
      );
      nodes.appendChild(node);
    }
    svg.appendChild(nodes);
    clear(dag).appendChild(svg);
  }

  function setNode(taskId, status, detail) {
    const node = dag.querySelector('a.node[data-task-id="' + CSS.escape(taskId) + '"]');
    if (!node) return;
    node.setAttribute('class', 'node st-' + status.toLowerCase());
    node.setAttribute('data-status', status);
    const n2 = node.querySelector('.n2');
    if (n2) n2.textContent = status.toLowerCase() + ' · ' + (detail || '').slice(0, 12);
  }

  function recolour() {
    for (const t of data.tasks) setNode(t.id, t.status, t.capability);
  }

  /** Segments per task: waiting (created → started), running, retry backoff (now → retryAt). */
  function segments(t, now) {
    const segs = [];
    const created = Date.parse(t.createdAt);
    const started = t.startedAt ? Date.parse(t.startedAt) : undefined;
    const finished = t.completedAt ? Date.parse(t.completedAt) : undefined;
    // Earlier attempts seen on the live feed while this page was open.
    const seen = recent.filter(
      (e) => e.taskId === t.id && (e.type === 'task.running' || e.type === 'task.retrying'),
    );
    let runStart;
    for (const e of seen) {
      const at = Date.parse(e.at);
      if (e.type === 'task.running') runStart = at;
      else if (runStart !== undefined && (started === undefined || at <= started)) {
        segs.push({ kind: 'failed-attempt', from: runStart, to: at });
        runStart = undefined;
      }
    }
    const firstRun = segs.length ? segs[0].from : started;
    segs.unshift({
      kind: 'waiting',
      from: created,
      to: firstRun !== undefined ? firstRun : finished !== undefined ? finished : now,
    });
    if (started !== undefined)
      segs.push({
        kind: 'running st-' + t.status.toLowerCase(),
        from: started,
        to: finished !== undefined ? finished : now,
      });
    if (t.retryAt && !TERMINAL.has(t.status))
      segs.push({ kind: 'backoff', from: now, to: Math.max(now, Date.parse(t.retryAt)) });
    return segs;
  }

  function renderGantt() {
    const now = Date.now();
    const list = (showAll ? data.tasks : data.tasks.slice(0, TABLE_ROWS))
      .slice()
      .sort(
        (a, b) =>
          Date.parse(a.createdAt) - Date.parse(b.createdAt) ||
          (a.startedAt || '').localeCompare(b.startedAt || ''),
      );
    const all = list.map((t) => segments(t, now));
    let min = Infinity;
    let max = -Infinity;
    for (const segs of all)
      for (const sg of segs) {
        min = Math.min(min, sg.from);
        max = Math.max(max, sg.to);
      }
    if (!Number.isFinite(min)) return clear(gantt);
    const span = Math.max(1, max - min);
    const labelW = 140;
    const width = 720;
    const rowH = 18;
    const x = (ms) => labelW + ((ms - min) / span) * (width - labelW - 10);
    const svg = s('svg', {
      width,
      height: list.length * rowH + 24,
      viewBox: '0 0 ' + width + ' ' + (list.length * rowH + 24),
      role: 'img',
      'aria-label':
        'Timeline: waiting, running and retry backoff of each task over ' + duration(span),
    });
    list.forEach((t, i) => {
      const y = i * rowH + 4;
      svg.appendChild(
        s('text', { x: 4, y: y + 11, class: 'g-label', text: (t.ref || t.id).slice(0, 18) }),
      );
      for (const sg of all[i]) {
        svg.appendChild(
          s(
            'rect',
            {
              x: x(sg.from),
              y,
              width: Math.max(2, x(sg.to) - x(sg.from)),
              height: rowH - 6,
              class: 'seg ' + sg.kind,
              'data-task-id': t.id,
            },
            s('title', { text: sg.kind.split(' ')[0] + ' ' + duration(sg.to - sg.from) }),
          ),
        );
      }
    });
    svg.appendChild(
      s('text', { x: labelW, y: list.length * rowH + 18, class: 'g-axis', text: '0' }),
    );
    svg.appendChild(
      s('text', {
        x: width - 10,
        y: list.length * rowH + 18,
        class: 'g-axis',
        'text-anchor': 'end',
        text: duration(span),
      }),
    );
    clear(gantt).append(
      h(
        'p',
        { class: 'legend muted' },
        h('span', { class: 'key waiting' }, 'waiting'),
        ' ',
        h('span', { class: 'key running' }, 'running'),
        ' ',
        h('span', { class: 'key failed-attempt' }, 'failed attempt'),
        ' ',
        h('span', { class: 'key backoff' }, 'retry backoff'),
      ),
      svg,
    );
  }

  function renderTasks() {
    // Delegation: children (parentTaskId) are listed, indented, under their parent.
    const byParent = new Map();
    const ids = new Set(data.tasks.map((t) => t.id));
    const roots = [];
    for (const t of data.tasks) {
      if (t.parentTaskId && ids.has(t.parentTaskId)) {
        if (!byParent.has(t.parentTaskId)) byParent.set(t.parentTaskId, []);
        byParent.get(t.parentTaskId).push(t);
      } else roots.push(t);
    }
    const ordered = [];
    const walk = (t, depth) => {
      ordered.push([t, depth]);
      for (const c of byParent.get(t.id) || []) walk(c, depth + 1);
    };
    roots.forEach((t) => walk(t, 0));
    const limit = showAll ? ordered.length : TABLE_ROWS;
    const rows = ordered.slice(0, limit).map(([t, depth]) =>
      row(
        {
          dataset: { taskId: t.id, status: t.status },
          class: depth ? 'child depth-' + Math.min(depth, 4) : undefined,
        },
        [
          h(
            'a',
            { href: '#/task/' + encodeURIComponent(t.id) },
            (depth ? '↳ ' : '') + (t.ref || t.id.slice(0, 8)),
          ),
          t.capability,
          badge(t.status),
          t.agentId,
          String(t.attempt),
          t.error
            ? h(
                'span',
                { class: 'error-text' },
                t.error.type + ': ' + t.error.message.slice(0, 120),
              )
            : t.reason,
        ],
      ),
    );
    clear(tasks).append(
      table(
        'Tasks of this workflow',
        ['task', 'capability', 'status', 'agent', 'attempt', 'error / reason'],
        rows,
        { id: 'run-task-table' },
      ),
    );
    if (ordered.length > limit)
      tasks.appendChild(
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              showAll = true;
              renderGantt();
              renderTasks();
            },
          },
          'Show all ' + ordered.length + ' tasks',
        ),
      );
  }

  const off = onEvent((e) => {
    if (e.workflowId !== id) return;
    if (e.taskId && EVENT_STATUS[e.type])
      setNode(e.taskId, EVENT_STATUS[e.type], e.capability || '');
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      load();
    }, 400);
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

function legend() {
  return ['BLOCKED', 'READY', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'].map((st) =>
    h('span', { class: 'key node-key st-' + st.toLowerCase() }, st.toLowerCase()),
  );
}

/** The body that submits the same workflow again (same refs, payloads, options; new ids). */
export function rerunBody(wf, tasks) {
  const refOf = new Map(tasks.map((t) => [t.id, t.ref || t.id]));
  const inWf = new Set(tasks.map((t) => t.id));
  return {
    name: wf.name,
    tasks: tasks
      .filter((t) => !t.parentTaskId)
      .map((t) => {
        const body = {
          ref: t.ref || t.id,
          capability: t.capability,
          payload: t.payload,
          priority: t.priority,
          onDependencyFailure: t.onDependencyFailure,
          timeoutMs: t.timeoutMs,
          retry: t.retry,
        };
        if (t.description) body.description = t.description;
        const deps = t.dependsOn.filter((d) => inWf.has(d)).map((d) => refOf.get(d));
        const outside = t.dependsOn.filter((d) => !inWf.has(d));
        if (deps.length) body.dependsOn = deps;
        if (outside.length) body.dependsOnTasks = outside;
        return body;
      }),
  };
}
