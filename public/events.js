// Events, summarised: a task's repeated task.waiting / task.running collapse into one line with a
// count; everything else is one line each. Newest first, last 200 lines.
import { h, clear } from './ui.js';

const MAX = 200;
const COLLAPSE = new Set(['task.waiting', 'task.running']);
/** Summary lines, newest first: {key, event, count, first}. */
const lines = [];
let listEl = null;

export function record(e) {
  const key = COLLAPSE.has(e.type) && e.taskId ? e.type + ' ' + e.taskId : null;
  let line = key ? lines.find((l) => l.key === key) : undefined;
  if (line) {
    lines.splice(lines.indexOf(line), 1);
    line.count++;
    line.event = e;
  } else line = { key, event: e, count: 1, first: e.at };
  lines.unshift(line);
  if (lines.length > MAX) lines.length = MAX;
  if (listEl && listEl.isConnected) draw();
}

function describe(line) {
  const e = line.event;
  const ids = ['workflowId', 'taskId', 'agentId', 'capability']
    .filter((k) => e[k])
    .map((k) => k.replace('Id', '') + '=' + (k.endsWith('Id') ? String(e[k]).slice(0, 8) : e[k]));
  const d = e.data || {};
  const err = d.error
    ? ' ' + (d.error.type || '') + ': ' + (d.error.message || '')
    : d.reason
      ? ' ' + d.reason
      : '';
  return (
    (e.at || '').slice(11, 19) +
    ' ' +
    e.type +
    (line.count > 1 ? ' ×' + line.count : '') +
    ' ' +
    ids.join(' ') +
    err.slice(0, 160)
  );
}

function draw() {
  clear(listEl);
  for (const line of lines) {
    const e = line.event;
    const href = e.taskId
      ? '#/task/' + encodeURIComponent(e.taskId)
      : e.workflowId
        ? '#/run/' + encodeURIComponent(e.workflowId)
        : null;
    const label = describe(line);
    listEl.appendChild(
      h(
        'li',
        {
          class: 't-' + e.type.replace('.', '-'),
          dataset: { type: e.type, taskId: e.taskId, count: String(line.count) },
        },
        href ? h('a', { href }, label) : label,
      ),
    );
  }
}

export function render() {
  listEl = h('ol', { id: 'events', reversed: true });
  draw();
  return {
    el: h(
      'section',
      {},
      h(
        'h2',
        {},
        'Events ',
        h(
          'span',
          { class: 'muted' },
          '(newest first; repeated waiting/running of a task collapse)',
        ),
      ),
      listEl,
    ),
    cleanup: () => (listEl = null),
  };
}
