// REST calls with the token the user gave (kept in this browser's localStorage only).
const TOKEN_KEY = 'switchyard.token';

export const auth = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    localStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, body, path) {
    const e = body && body.error;
    super(e ? e.code + ': ' + e.message : 'HTTP ' + status + ' on ' + path);
    this.status = status;
    this.code = e ? e.code : undefined;
    this.details = e ? e.details : undefined;
  }
}

let onUnauthorized = () => undefined;
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** `api('GET', '/v1/queue')`; rejects with ApiError (status, code, message) on non-2xx. */
export async function api(method, path, body) {
  const headers = { authorization: 'Bearer ' + auth.token, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let parsed = null;
  try {
    parsed = await res.json();
  } catch {
    parsed = null;
  }
  if (res.status === 401) {
    onUnauthorized('The token was refused (401).');
  }
  if (!res.ok) throw new ApiError(res.status, parsed, path);
  return parsed;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
}
