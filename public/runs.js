// Runs: workflows and standalone tasks, newest first (GET /v1/workflows?kind=all), with filters,
// cursor pagination (the API scans an index, so page 1 costs the same with 10 or 100k runs) and
// live refresh. A capability or agent filter lists tasks instead (GET /v1/tasks).
import { get, qs } from './api.js';
import { onEvent } from './live.js';
import { h, clear, badge, duration, time, table, row } from './ui.js';

const STATUSES = ['', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'BLOCKED', 'READY'];
const PAGE = 50;

export function render(query) {
  const f = {
    kind: query.get('kind') || 'all',
    status: query.get('status') || '',
    q: query.get('q') || '',
    capability: query.get('capability') || '',
    agent: query.get('agent') || '',
    since: query.get('since') || '',
    until: query.get('until') || '',
  };
  const cursors = [undefined]; // cursor of each page seen, for "newer"
  let page = 0;
  let shown = new Set();
  let timer = null;

  const list = h('div', { id: 'runs-list', 'aria-live': 'polite', 'aria-busy': 'true' });
  const pager = h('div', { class: 'pager' });
  const info = h('p', { class: 'muted', id: 'runs-info' });

  const field = (label, input) => h('label', {}, h('span', {}, label), input);
  const kind = h(
    'select',
    { name: 'kind' },
    ['all', 'workflow', 'task'].map((k) =>
      h(
        'option',
        { value: k, selected: f.kind === k },
        k === 'all' ? 'workflows + tasks' : k === 'task' ? 'standalone tasks' : 'workflows',
      ),
    ),
  );
  const status = h(
    'select',
    { name: 'status' },
    STATUSES.map((s) => h('option', { value: s, selected: f.status === s }, s || 'any')),
  );
  const q = h('input', { name: 'q', type: 'search', value: f.q, placeholder: 'id or name' });
  const capability = h('input', {
    name: 'capability',
    value: f.capability,
    placeholder: 'e.g. docs',
  });
  const agent = h('input', { name: 'agent', value: f.agent, placeholder: 'agent id' });
  const since = h('input', { name: 'since', type: 'datetime-local', value: f.since });
  const until = h('input', { name: 'until', type: 'datetime-local', value: f.until });
  const form = h(
    'form',
    {
      class: 'filters',
      role: 'search',
      'aria-label': 'Filter runs',
      onsubmit: (ev) => {
        ev.preventDefault();
        const next = {
          kind: kind.value,
          status: status.value,
          q: q.value.trim(),
          capability: capability.value.trim(),
          agent: agent.value.trim(),
          since: since.value,
          until: until.value,
        };
        if (next.kind === 'all') delete next.kind;
        location.hash = '#/runs' + qs(next);
      },
    },
    field('Show', kind),
    field('Status', status),
    field('Search', q),
    field('Capability', capability),
    field('Agent', agent),
    field('Created after', since),
    field('Created before', until),
    h('button', { type: 'submit' }, 'Apply'),
  );

  const el = h(
    'section',
    { id: 'runs', 'aria-labelledby': 'runs-title' },
    h('h2', { id: 'runs-title' }, 'Runs'),
    form,
    info,
    list,
    pager,
  );

  const taskMode = () => f.capability !== '' || f.agent !== '';
  const iso = (local) => (local ? new Date(local).toISOString() : undefined);

  async function load() {
    list.setAttribute('aria-busy', 'true');
    const t0 = performance.now();
    try {
      let body;
      if (taskMode()) {
        body = await get(
          '/v1/tasks' +
            qs({
              capability: f.capability,
              agent: f.agent,
              status: f.status,
              limit: PAGE,
              cursor: cursors[page],
            }),
        );
        info.textContent = 'Tasks matching capability/agent (oldest first).';
        renderTasks(body.items);
      } else {
        // A rare filter may come back short with a cursor (the API bounds each scan): keep
        // reading, a few rounds at most, to fill the page.
        const params = {
          kind: f.kind,
          status: f.status,
          q: f.q,
          since: iso(f.since),
          until: iso(f.until),
        };
        body = await get('/v1/workflows' + qs({ ...params, limit: PAGE, cursor: cursors[page] }));
        for (let round = 0; round < 10 && body.items.length < PAGE && body.nextCursor; round++) {
          const more = await get(
            '/v1/workflows' +
              qs({ ...params, limit: PAGE - body.items.length, cursor: body.nextCursor }),
          );
          body = { items: body.items.concat(more.items), nextCursor: more.nextCursor };
        }
        info.textContent = '';
        renderRuns(body.items);
      }
      cursors[page + 1] = body.nextCursor || undefined;
      renderPager(body.nextCursor);
      el.dataset.loadedMs = String(Math.round(performance.now() - t0));
      performance.mark('console:runs-rendered');
    } catch (e) {
      clear(list).appendChild(
        h('p', { class: 'error', role: 'alert' }, 'Could not load runs: ' + e.message),
      );
    }
    list.setAttribute('aria-busy', 'false');
  }

  function counts(c) {
    return h(
      'span',
      { class: 'counts' },
      h('span', { class: 'c-completed', title: 'completed' }, '✓' + c.completed),
      ' ',
      h('span', { class: 'c-failed', title: 'failed' }, '✗' + c.failed),
      ' ',
      h('span', { class: 'c-cancelled', title: 'cancelled' }, '⊘' + c.cancelled),
      ' ',
      h('span', { class: 'c-active', title: 'not finished' }, '…' + c.active),
      ' ',
      h('span', { class: 'muted' }, '/ ' + c.total),
    );
  }

  function cost(c) {
    if (!c || (!c.usd && !c.tokens)) return '-';
    const usd = c.usd ? '$' + c.usd.toFixed(c.usd < 1 ? 4 : 2) : '';
    const tok = c.tokens
      ? (c.tokens >= 1000 ? (c.tokens / 1000).toFixed(1) + 'k' : c.tokens) + ' tok'
      : '';
    return [usd, tok].filter(Boolean).join(' · ');
  }

  function renderRuns(items) {
    shown = new Set(items.map((r) => r.id));
    const rows = items.map((r) =>
      row({ dataset: { runId: r.id, kind: r.kind, status: r.status } }, [
        h(
          'a',
          { href: (r.kind === 'workflow' ? '#/run/' : '#/task/') + encodeURIComponent(r.id) },
          r.name || r.id.slice(0, 8),
        ),
        h('code', { title: r.id }, r.id.slice(0, 8)),
        r.kind === 'workflow' ? 'workflow' : 'task' + (r.capability ? ' · ' + r.capability : ''),
        badge(r.status),
        time(r.createdAt),
        duration(r.durationMs),
        counts(r.counts),
        cost(r.cost),
      ]),
    );
    clear(list).appendChild(
      items.length === 0
        ? h('p', { class: 'muted' }, 'No runs match.')
        : table(
            'Runs, newest first',
            ['name', 'id', 'kind', 'status', 'created', 'duration', 'tasks', 'cost'],
            rows,
            { id: 'runs-table' },
          ),
    );
  }

  function renderTasks(items) {
    shown = new Set(items.map((t) => t.workflowId || t.id));
    const rows = items.map((t) =>
      row({ dataset: { runId: t.id, kind: 'task', status: t.status } }, [
        h(
          'a',
          { href: '#/task/' + encodeURIComponent(t.id) },
          t.ref || t.description || t.id.slice(0, 8),
        ),
        h('code', { title: t.id }, t.id.slice(0, 8)),
        t.workflowId
          ? h(
              'a',
              { href: '#/run/' + encodeURIComponent(t.workflowId) },
              'workflow ' + t.workflowId.slice(0, 8),
            )
          : 'task · ' + t.capability,
        badge(t.status),
        time(t.createdAt),
        duration(
          t.completedAt && t.startedAt
            ? Date.parse(t.completedAt) - Date.parse(t.startedAt)
            : undefined,
        ),
        t.agentId || '-',
      ]),
    );
    clear(list).appendChild(
      items.length === 0
        ? h('p', { class: 'muted' }, 'No tasks match.')
        : table('Tasks', ['task', 'id', 'run', 'status', 'created', 'ran for', 'agent'], rows, {
            id: 'runs-table',
          }),
    );
  }

  function renderPager(next) {
    clear(pager).append(
      h(
        'button',
        {
          type: 'button',
          disabled: page === 0,
          onclick: () => {
            page--;
            load();
          },
        },
        '← newer',
      ),
      h('span', { class: 'muted' }, ' page ' + (page + 1) + ' '),
      h(
        'button',
        {
          type: 'button',
          id: 'runs-next',
          disabled: !next,
          onclick: () => {
            page++;
            load();
          },
        },
        'older →',
      ),
    );
  }

  // Live: a new run shows up on page 1; a change to a run on screen refreshes the page.
  const off = onEvent((e) => {
    const id = e.workflowId || e.taskId;
    const isNew = e.type === 'task.created' && page === 0;
    if (!isNew && !(id && shown.has(id)) && !e.type.startsWith('workflow.')) return;
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      load();
    }, 1000);
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
