// Switchyard console: plain browser ES modules, no build step for the user (`npm run build`
// copies these files and the dagre layout library into dist/public). Hash routes:
//   #/runs  #/run/<workflowId>  #/task/<taskId>  #/agents  #/events  #/settings
import { api, auth, setUnauthorizedHandler } from './api.js';
import { connect, disconnect, onEvent, onState } from './live.js';
import { ctx } from './ctx.js';
import { h, clear } from './ui.js';
import * as runs from './runs.js';
import * as run from './run.js';
import * as task from './task.js';
import * as agents from './agents.js';
import * as events from './events.js';
import * as settings from './settings.js';

const $ = (id) => document.getElementById(id);
ctx.confirm = confirm;
ctx.act = act;
ctx.toast = toast;
let cleanup = null;

// ---------------------------------------------------------------- login

function showLogin(message) {
  disconnect();
  if (cleanup) cleanup();
  cleanup = null;
  $('view').hidden = true;
  $('nav').hidden = true;
  $('logout').hidden = true;
  $('errors-strip').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('token-input').focus();
}

setUnauthorizedHandler((message) => {
  auth.clear();
  showLogin(message);
});

async function start() {
  $('login').hidden = true;
  $('view').hidden = false;
  $('nav').hidden = false;
  $('logout').hidden = false;
  try {
    const me = await api('GET', '/v1/whoami');
    ctx.role = me.role;
    $('whoami').textContent = me.name + ' (' + me.role + ')';
  } catch (e) {
    if (e.status === 401) return;
    $('whoami').textContent = '';
  }
  connect();
  route();
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  auth.set($('token-input').value.trim());
  $('token-input').value = '';
  start();
});
$('logout').addEventListener('click', () => {
  auth.clear();
  showLogin('');
});

onState((state) => {
  const el = $('feed-state');
  el.className = 'pill ' + (state === 'live' ? 'on' : 'off');
  el.textContent = 'feed: ' + state;
  if (state === 'refused') {
    auth.clear();
    showLogin('The live feed refused the token.');
  }
});

// ---------------------------------------------------------------- routing

const ROUTES = [
  [/^#?\/?(runs)?$/, (m, q) => runs.render(q)],
  [/^#\/run\/([^/?]+)$/, (m) => run.render(decodeURIComponent(m[1]))],
  [/^#\/task\/([^/?]+)$/, (m) => task.render(decodeURIComponent(m[1]))],
  [/^#\/agents$/, () => agents.render()],
  [/^#\/events$/, () => events.render()],
  [/^#\/settings$/, () => settings.render()],
];

function route() {
  if (!auth.token) return showLogin('');
  if (cleanup) cleanup();
  cleanup = null;
  const [path, query] = location.hash.split('?');
  const view = clear($('view'));
  for (const a of document.querySelectorAll('#nav a')) {
    const here =
      path.startsWith('#/' + a.dataset.route) ||
      (a.dataset.route === 'runs' && (path === '' || path.startsWith('#/run/')));
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const [re, fn] of ROUTES) {
    const m = path.match(re);
    if (m) {
      const v = fn(m, new URLSearchParams(query || ''));
      view.appendChild(v.el);
      cleanup = v.cleanup || null;
      return;
    }
  }
  view.appendChild(h('p', { class: 'error' }, 'No such page: ' + location.hash));
}
window.addEventListener('hashchange', route);

// ---------------------------------------------------------------- actions

let confirming = null;
/** Modal confirmation (a <dialog>: focus is trapped and Escape cancels). */
function confirm(message, label) {
  const dlg = $('confirm');
  $('confirm-text').textContent = message;
  $('confirm-yes').textContent = label || 'Confirm';
  dlg.returnValue = '';
  dlg.showModal();
  $('confirm-no').focus();
  return new Promise((resolve) => {
    confirming = resolve;
  });
}
$('confirm').addEventListener('close', () => {
  if (confirming) confirming($('confirm').returnValue === 'ok');
  confirming = null;
});

/** Confirms, calls the REST API with the user's token, shows the outcome; returns the body. */
async function act(message, label, call) {
  if (!(await confirm(message, label))) return undefined;
  try {
    const body = await call();
    toast(label + ': done', 'ok');
    return body;
  } catch (e) {
    toast(label + ' failed: ' + e.message, 'error');
    return undefined;
  }
}

let toastTimer = null;
function toast(message, kind) {
  const el = $('toast');
  el.className = 'show ' + (kind || '');
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.className = ''), 6000);
}

// ---------------------------------------------------------------- errors strip

const ERROR_TYPES = new Set([
  'task.failed',
  'task.retrying',
  'workflow.failed',
  'breaker.opened',
  'agent.expired',
  'task.deadlocked',
]);
const failures = [];
onEvent((e) => {
  events.record(e);
  if (!ERROR_TYPES.has(e.type)) return;
  const entry = { ...e };
  failures.unshift(entry);
  failures.length = Math.min(failures.length, 5);
  renderStrip();
  // Events carry the error type only: fetch the task for its message.
  if (e.taskId && (e.type === 'task.failed' || e.type === 'task.retrying'))
    api('GET', '/v1/tasks/' + encodeURIComponent(e.taskId))
      .then((t) => {
        if (t.error) entry.data = { ...(entry.data || {}), error: t.error };
        renderStrip();
      })
      .catch(() => undefined);
});
function renderStrip() {
  const list = clear($('errors-list'));
  $('errors-strip').hidden = failures.length === 0 || $('view').hidden;
  for (const e of failures) {
    const err = e.data && (e.data.error || e.data.reason);
    const message = err
      ? typeof err === 'string'
        ? err
        : (err.type ? err.type + ': ' : '') + (err.message || '')
      : '';
    const href = e.taskId
      ? '#/task/' + encodeURIComponent(e.taskId)
      : e.workflowId
        ? '#/run/' + encodeURIComponent(e.workflowId)
        : e.agentId
          ? '#/agents'
          : '#/events';
    list.appendChild(
      h(
        'li',
        { dataset: { type: e.type } },
        h('time', { datetime: e.at }, (e.at || '').slice(11, 19)),
        ' ',
        h('a', { href }, e.type + ' ' + (e.taskId || e.workflowId || e.agentId || '')),
        message ? ' — ' + message.slice(0, 160) : '',
      ),
    );
  }
}
$('errors-clear').addEventListener('click', () => {
  failures.length = 0;
  renderStrip();
});

if (auth.token) start();
else showLogin('');
