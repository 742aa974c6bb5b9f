// Small DOM helpers shared by the console's views. Everything is built with createElement and
// textContent: no HTML strings, so nothing from the API can inject markup.

/** `h('a', {href: '#/x', class: 'y'}, 'text', child)` */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v))
        if (dv !== undefined && dv !== null) el.dataset[dk] = dv;
    } else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(
      typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c,
    );
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function text(value) {
  return value === undefined || value === null || value === '' ? '-' : String(value);
}

export function clear(el) {
  el.textContent = '';
  return el;
}

/** 1234 ms → "1.2 s", 75000 → "1 m 15 s". */
export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '-';
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
  if (ms < 3600000) return Math.floor(ms / 60000) + ' m ' + Math.round((ms % 60000) / 1000) + ' s';
  return Math.floor(ms / 3600000) + ' h ' + Math.round((ms % 3600000) / 60000) + ' m';
}

/** ISO time → local "YYYY-MM-DD HH:MM:SS" (title keeps the exact ISO). */
export function time(iso) {
  if (!iso) return h('span', {}, '-');
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  const label =
    d.getFullYear() +
    '-' +
    pad(d.getMonth() + 1) +
    '-' +
    pad(d.getDate()) +
    ' ' +
    pad(d.getHours()) +
    ':' +
    pad(d.getMinutes()) +
    ':' +
    pad(d.getSeconds());
  return h('time', { datetime: iso, title: iso }, label);
}

export function ago(iso, now = Date.now()) {
  if (!iso) return '-';
  const ms = now - Date.parse(iso);
  return ms < 0 ? 'in ' + duration(-ms) : duration(ms) + ' ago';
}

export function badge(status) {
  const st = String(status || 'UNKNOWN');
  return h('span', { class: 'badge st-' + st.toLowerCase(), dataset: { status: st } }, st);
}

export function json(value) {
  if (value === undefined) return h('p', { class: 'muted' }, 'none');
  return h('pre', { class: 'json', tabindex: '0' }, JSON.stringify(value, null, 2));
}

/** A table in a horizontally scrolling wrapper (phones), with a caption for screen readers. */
export function table(caption, headers, rows, attrs) {
  const t = h(
    'table',
    attrs || {},
    h('caption', { class: 'sr-only' }, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((x) => h('th', { scope: 'col' }, x)),
      ),
    ),
    h('tbody', {}, rows),
  );
  return h('div', { class: 'scroll-x' }, t);
}

/** Row helper: each value becomes a <td> (nodes are kept, other values go through text()). */
export function row(attrs, cells) {
  return h(
    'tr',
    attrs,
    cells.map((c) =>
      c instanceof Node ? h('td', {}, c) : Array.isArray(c) ? h('td', {}, c) : h('td', {}, text(c)),
    ),
  );
}
