// Agents: status that reflects the circuit breaker, load sparkline, capabilities, recent failures;
// capabilities that have waiting tasks and no agent are highlighted. Queue counts and breakers.
import { get, post } from './api.js';
import { ctx } from './ctx.js';
import { onEvent, recent } from './live.js';
import { h, s, clear, badge, table, row, time, ago } from './ui.js';

/** Load samples per agent (kept while the page is open in this tab). */
const history = new Map();
const SAMPLES = 40;

export function render() {
  let timer = null;
  const alerts = h('div', { id: 'no-agent', 'aria-live': 'polite' });
  const agentsBox = h(
    'div',
    {},
    table(
      'Agents',
      [
        'id',
        'status',
        'load',
        'health',
        'capabilities',
        'load over time',
        'recent failures',
        'last heartbeat',
      ],
      [],
      { id: 'agents' },
    ),
  );
  const queue = h('dl', { id: 'queue', class: 'counts-dl' });
  const breakers = h('div', { id: 'breakers-box' });
  const el = h(
    'section',
    { id: 'agents-view' },
    h('h2', {}, 'Agents ', h('span', { id: 'agent-count', class: 'muted' })),
    alerts,
    agentsBox,
    h(
      'div',
      { class: 'row' },
      h('div', {}, h('h2', {}, 'Queue'), queue),
      h('div', {}, h('h2', {}, 'Circuit breakers'), breakers),
    ),
  );

  async function refresh() {
    const [agents, brk, counts, ready] = await Promise.all([
      get('/v1/agents?limit=1000').catch(() => null),
      get('/v1/circuit-breakers').catch(() => null),
      get('/v1/queue').catch(() => null),
      get('/v1/tasks?status=READY&limit=1000').catch(() => null),
    ]);
    const breakerOf = new Map(((brk && brk.items) || []).map((b) => [b.agentId, b]));
    const list = (agents && agents.items) || [];
    for (const a of list) {
      const hs = history.get(a.id) || [];
      hs.push(a.maxLoad ? a.load / a.maxLoad : 0);
      if (hs.length > SAMPLES) hs.shift();
      history.set(a.id, hs);
    }
    renderAgents(list, breakerOf);
    renderNoAgent(list, (ready && ready.items) || []);
    renderQueue(counts || {});
    renderBreakers((brk && brk.items) || []);
  }

  function renderAgents(list, breakerOf) {
    const failures = new Map();
    for (const e of recent) {
      if ((e.type === 'task.failed' || e.type === 'task.retrying') && e.agentId) {
        if (!failures.has(e.agentId)) failures.set(e.agentId, []);
        failures.get(e.agentId).push(e);
      }
    }
    const rows = list.map((a) => {
      const b = breakerOf.get(a.id);
      const f = (failures.get(a.id) || []).slice(-3).reverse();
      const failCell = f.length
        ? h(
            'ul',
            { class: 'plain' },
            f.map((e) =>
              h(
                'li',
                {},
                h('a', { href: '#/task/' + encodeURIComponent(e.taskId) }, ago(e.at)),
                ' ',
                (e.data && e.data.error && e.data.error.type) || e.type.slice(5),
              ),
            ),
          )
        : b && b.totalFailures
          ? b.totalFailures + ' total'
          : '-';
      return row({ dataset: { agentId: a.id, status: effectiveStatus(a, b) } }, [
        a.id,
        statusCell(a, b),
        a.load + '/' + a.maxLoad,
        typeof a.healthScore === 'number' ? a.healthScore.toFixed(2) : a.healthScore,
        (a.capabilities || []).join(', '),
        sparkline(history.get(a.id) || [], a.id),
        failCell,
        time(a.lastHeartbeatAt),
      ]);
    });
    clear(agentsBox).appendChild(
      table(
        'Agents',
        [
          'id',
          'status',
          'load',
          'health',
          'capabilities',
          'load over time',
          'recent failures',
          'last heartbeat',
        ],
        rows,
        { id: 'agents' },
      ),
    );
    document.getElementById('agent-count').textContent = '(' + list.length + ')';
  }

  function renderNoAgent(list, ready) {
    const served = new Set();
    for (const a of list)
      if (a.status !== 'OFFLINE') for (const c of a.capabilities || []) served.add(c);
    const waiting = new Map();
    for (const t of ready) {
      if (served.has(t.capability)) continue;
      const w = waiting.get(t.capability) || { n: 0, since: t.createdAt };
      w.n++;
      if (t.createdAt < w.since) w.since = t.createdAt;
      waiting.set(t.capability, w);
    }
    clear(alerts);
    if (waiting.size === 0) return;
    alerts.appendChild(
      h(
        'div',
        { class: 'warn-box', role: 'alert' },
        h('strong', {}, 'Tasks waiting with no agent for their capability'),
        h(
          'ul',
          {},
          [...waiting].map(([cap, w]) =>
            h(
              'li',
              { dataset: { capability: cap } },
              h('code', {}, cap),
              ': ' + w.n + ' task(s) waiting since ' + ago(w.since) + ' — ',
              h(
                'a',
                { href: '#/runs?capability=' + encodeURIComponent(cap) + '&status=READY' },
                'see them',
              ),
            ),
          ),
        ),
      ),
    );
  }

  function renderQueue(counts) {
    clear(queue);
    for (const [k, v] of Object.entries(counts))
      queue.append(h('dt', {}, k), h('dd', { dataset: { count: k } }, String(v)));
  }

  function renderBreakers(items) {
    const rows = items.map((b) =>
      row({ dataset: { agentId: b.agentId } }, [
        b.agentId,
        badge(b.state.toUpperCase()),
        (b.failures || 0) + '/' + b.threshold,
        b.nextAttemptAt ? time(b.nextAttemptAt) : '-',
        ctx.canAct && b.state !== 'closed'
          ? h(
              'button',
              {
                type: 'button',
                class: 'reset-breaker',
                onclick: async () => {
                  if (
                    await ctx.act(
                      'Close the breaker of ' +
                        b.agentId +
                        ' and clear its failures (on every control-plane instance)?',
                      'Reset breaker',
                      () =>
                        post('/v1/circuit-breakers/' + encodeURIComponent(b.agentId) + '/reset'),
                    )
                  )
                    refresh();
                },
              },
              'Reset',
            )
          : '-',
      ]),
    );
    clear(breakers).appendChild(
      items.length === 0
        ? h('p', { class: 'muted' }, 'none yet (every agent starts closed)')
        : table('Circuit breakers', ['agent', 'state', 'failures', 'next trial', 'action'], rows, {
            id: 'breakers',
          }),
    );
  }

  const off = onEvent((e) => {
    if (timer || !/^(agent|breaker|task)\./.test(e.type)) return;
    timer = setTimeout(() => {
      timer = null;
      refresh();
    }, 500);
  });
  const every = setInterval(refresh, 5000);
  refresh();
  return {
    el,
    cleanup: () => {
      off();
      clearTimeout(timer);
      clearInterval(every);
    },
  };
}

/** An open breaker overrides the registry's AVAILABLE: no task is sent to it until a trial passes. */
function effectiveStatus(a, b) {
  if (b && b.state === 'open') return 'BREAKER_OPEN';
  if (b && b.state === 'half_open') return 'BREAKER_TRIAL';
  return a.status;
}

function statusCell(a, b) {
  const eff = effectiveStatus(a, b);
  if (eff === a.status) return badge(a.status);
  return h(
    'span',
    {},
    badge(eff === 'BREAKER_OPEN' ? 'BREAKER OPEN' : 'BREAKER TRIAL'),
    h('span', { class: 'muted small' }, ' registry: ' + a.status),
  );
}

function sparkline(values, id) {
  const w = 80;
  const hh = 20;
  if (values.length === 0) return h('span', { class: 'muted small' }, 'no samples');
  if (values.length === 1) values = [values[0], values[0]];
  const pts = values
    .map((v, i) => (i * (w / (SAMPLES - 1))).toFixed(1) + ',' + (hh - 1 - v * (hh - 2)).toFixed(1))
    .join(' ');
  const last = values[values.length - 1];
  return s(
    'svg',
    {
      width: w,
      height: hh,
      class: 'spark',
      role: 'img',
      'aria-label':
        'load of ' +
        id +
        ' over the last ' +
        values.length +
        ' samples, now ' +
        Math.round(last * 100) +
        '%',
    },
    s('polyline', { points: pts }),
  );
}
