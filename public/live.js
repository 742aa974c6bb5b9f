// The live feed (/v1/live). The token goes in the FIRST MESSAGE ({"type":"auth"}), never in the
// URL, so it stays out of proxy and access logs (docs/LIVE-FEED.md).
import { auth } from './api.js';

const listeners = new Set();
const stateListeners = new Set();
/** Recent events (newest last), for task attempt histories and the events view. */
export const recent = [];
const MAX_RECENT = 5000;

let ws = null;
let delay = 1000;
let stopped = true;
let whoami = null;

export function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function onState(fn) {
  stateListeners.add(fn);
}
function setState(state, detail) {
  for (const fn of stateListeners) fn(state, detail);
}
export function identity() {
  return whoami;
}

export function connect() {
  stopped = false;
  if (ws) return;
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/live';
  setState('connecting');
  const sock = new WebSocket(url);
  ws = sock;
  sock.onopen = () => sock.send(JSON.stringify({ type: 'auth', token: auth.token }));
  sock.onmessage = (m) => {
    let msg;
    try {
      msg = JSON.parse(m.data);
    } catch {
      return;
    }
    if (msg.type === 'welcome') {
      delay = 1000;
      whoami = msg;
      sock.send(JSON.stringify({ type: 'subscribe', id: 'console', filters: {} }));
    } else if (msg.type === 'subscribed') {
      setState('live', whoami);
    } else if (msg.type === 'event') {
      recent.push(msg.event);
      if (recent.length > MAX_RECENT) recent.splice(0, recent.length - MAX_RECENT);
      for (const fn of listeners) fn(msg.event);
    } else if (msg.type === 'dropped') {
      for (const fn of listeners)
        fn({ type: 'console.dropped', at: new Date().toISOString(), data: { count: msg.count } });
    }
  };
  sock.onclose = (c) => {
    if (ws === sock) ws = null;
    if (stopped) return setState('offline');
    if (c.code === 4401) {
      stopped = true;
      return setState('refused');
    }
    setState('reconnecting');
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 30000);
  };
}

export function disconnect() {
  stopped = true;
  if (ws) {
    const sock = ws;
    ws = null;
    sock.close();
  }
  setState('offline');
}
