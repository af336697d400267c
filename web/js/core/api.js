// SPDX-License-Identifier: Apache-2.0
// fetch wrapper for the Loom REST API. Adds the session token (Authorization: Bearer),
// encodes query objects and JSON bodies, parses JSON replies and turns every failure into
// an ApiError {status, message, body}: status 0 means the server could not be reached.
// A 401 on a signed-in request forgets the token and sends the browser to the login page.

const TOKEN_KEY = 'loom.token';
const KIND_KEY = 'loom.auth'; // 'password' (a login session) or 'token' (a pasted API token)
const TIMEOUT_MS = 30000;

/** Error thrown by every api call. status: HTTP status, 0 = network error / server down. */
export class ApiError extends Error {
  constructor(status, message, body, retryAfter) {
    super(message || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.body = body === undefined ? null : body;
    /** seconds from a Retry-After header (429, 503), else null */
    this.retryAfter = retryAfter === undefined ? null : retryAfter;
  }
}

const netListeners = new Set();
let unauthorizedHandler = null;

function store(kind) {
  try {
    return kind === 'local' ? localStorage : sessionStorage;
  } catch (e) {
    return null;
  }
}

function readToken() {
  const s = store('session');
  const l = store('local');
  return (s && s.getItem(TOKEN_KEY)) || (l && l.getItem(TOKEN_KEY)) || '';
}

function query(params) {
  if (!params) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, String(x)));
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

function notifyNet(up) {
  for (const fn of netListeners) fn(up);
}

/**
 * request(method, path, opts) -> parsed JSON (or text with opts.raw, or null for 204).
 * opts: params (query object), body (JSON-encoded unless a string), accept (Accept header),
 * token (use this token instead of the stored one), noRedirect (a 401 does not sign out),
 * signal (AbortSignal).
 */
async function request(method, path, opts = {}) {
  const headers = { Accept: opts.accept || 'application/json' };
  const tok = opts.token !== undefined ? opts.token : readToken();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  let body;
  if (opts.body !== undefined) {
    if (typeof opts.body === 'string') {
      body = opts.body;
      headers['Content-Type'] = opts.contentType || 'text/plain; charset=utf-8';
    } else {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), opts.timeoutMs || TIMEOUT_MS);
  if (opts.signal) opts.signal.addEventListener('abort', () => ctl.abort(), { once: true });
  let r;
  try {
    r = await fetch(path + query(opts.params), { method, headers, body, signal: ctl.signal, cache: 'no-store' });
  } catch (e) {
    clearTimeout(timer);
    if (opts.signal && opts.signal.aborted) throw new ApiError(0, 'aborted', null);
    notifyNet(false);
    throw new ApiError(0, 'network error', null);
  }
  let text;
  try {
    text = await r.text();
  } catch (e) {
    clearTimeout(timer);
    notifyNet(false);
    throw new ApiError(0, 'network error', null);
  }
  clearTimeout(timer);
  notifyNet(true);
  const ctype = r.headers.get('content-type') || '';
  let data = null;
  if (text && ctype.includes('json')) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = null;
    }
  }
  if (!r.ok) {
    const msg = (data && data.error && (data.error.message || data.error.code)) ||
      (data && typeof data.error === 'string' && data.error) || text.slice(0, 300) || r.statusText;
    const ra = r.headers.get('retry-after');
    const err = new ApiError(r.status, msg, data, ra && /^\d+$/.test(ra) ? Number(ra) : null);
    if (r.status === 401 && tok && !opts.noRedirect && opts.token === undefined && unauthorizedHandler) {
      clearToken();
      unauthorizedHandler(err);
    }
    throw err;
  }
  if (opts.raw) return text;
  if (r.status === 204 || !text) return null;
  return data !== null ? data : text;
}

/** setToken(token, persist): store the token (localStorage when persist = "stay signed in",
 * else sessionStorage) and how it was obtained (kind 'password' or 'token'). */
export function setToken(token, persist, kind = 'password') {
  clearToken();
  const s = store(persist ? 'local' : 'session');
  if (!s) return;
  s.setItem(TOKEN_KEY, token);
  s.setItem(KIND_KEY, kind);
}

/** clearToken(): forget the token in both storages. */
export function clearToken() {
  for (const k of ['local', 'session']) {
    const s = store(k);
    if (s) {
      s.removeItem(TOKEN_KEY);
      s.removeItem(KIND_KEY);
    }
  }
}

/** authKind(): 'password', 'token' or '' (no token). */
export function authKind() {
  const s = store('session');
  const l = store('local');
  return (s && s.getItem(TOKEN_KEY) && s.getItem(KIND_KEY)) || (l && l.getItem(TOKEN_KEY) && l.getItem(KIND_KEY)) || '';
}

/** onUnauthorized(fn): fn(err) runs after a 401 cleared the token (the shell goes to login). */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

/** onNetwork(fn): fn(up) after each request: false when the server could not be reached,
 * true when it answered (any status). Returns an unsubscribe function. */
export function onNetwork(fn) {
  netListeners.add(fn);
  return () => netListeners.delete(fn);
}

/** The API client every page uses (ctx.api). All methods reject with ApiError. */
export const api = {
  /** get(path, params?, opts?) -> JSON */
  get: (path, params, opts) => request('GET', path, { ...(opts || {}), params }),
  /** post(path, body?, opts?) -> JSON or null (204) */
  post: (path, body, opts) => request('POST', path, { ...(opts || {}), body }),
  /** put(path, body?, opts?) -> JSON or null */
  put: (path, body, opts) => request('PUT', path, { ...(opts || {}), body }),
  /** patch(path, body?, opts?) -> JSON or null */
  patch: (path, body, opts) => request('PATCH', path, { ...(opts || {}), body }),
  /** del(path, params?, opts?) -> JSON or null */
  del: (path, params, opts) => request('DELETE', path, { ...(opts || {}), params }),
  /** text(path, params?, {accept}) -> the body as a string (e.g. CSV export) */
  text: (path, params, opts) => request('GET', path, { ...(opts || {}), params, raw: true, accept: (opts && opts.accept) || 'text/plain' }),
  /** token() -> the current session token ('' when signed out), e.g. for the WebSocket auth */
  token: readToken,
  /** url(path, params?) -> path with the query string (links, downloads) */
  url: (path, params) => path + query(params),
};
