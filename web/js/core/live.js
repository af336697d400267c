// SPDX-License-Identifier: Apache-2.0
// Live updates for the console: one WebSocket to /api/v1/ws per page load, shared by every
// subscriber (protocol: docs/guide.md "Live updates over WebSocket", src/api/api.h). Opens on
// the first subscribe, authenticates with the session token, re-subscribes everything after a
// reconnect (exponential back-off with jitter), and closes a moment after the last unsubscribe.
import * as apiModule from './api.js';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;
const IDLE_CLOSE_MS = 2000; // the next page usually subscribes right after the old one left

/**
 * Make a live client. cfg (all optional, for tests): url, token() -> string|null,
 * WebSocket (constructor). The console uses the shared `live` below.
 */
export function createLive(cfg = {}) {
  const WS = cfg.WebSocket || globalThis.WebSocket;
  const token = cfg.token || (() => (apiModule.api && apiModule.api.token ? apiModule.api.token() : null));
  const url = cfg.url || (() => {
    const l = globalThis.location;
    return (l.protocol === 'https:' ? 'wss://' : 'ws://') + l.host + '/api/v1/ws';
  });

  const subs = new Map(); // id -> {spec, cb, onError, acked}
  const statusFns = new Set();
  let nextId = 1;
  let ws = null;
  let authed = false;
  let attempt = 0;
  let retryTimer = 0;
  let idleTimer = 0;
  let state = 'closed'; // closed | connecting | open | retrying

  function setState(s) {
    if (s === state) return;
    state = s;
    for (const fn of statusFns) {
      try { fn(s); } catch (e) { console.error(e); }
    }
  }

  function send(obj) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj));
  }

  function sendSubscribe(id, spec) {
    send({ ...spec, cmd: 'subscribe', id });
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (ws || !subs.size) return;
    const tok = token();
    if (!tok) { // signed out: try again later (a sign-in gives a token)
      scheduleRetry();
      return;
    }
    authed = false;
    setState('connecting');
    let sock;
    try {
      sock = new WS(typeof url === 'function' ? url() : url);
    } catch (e) {
      scheduleRetry();
      return;
    }
    ws = sock;
    sock.onopen = () => sock.send(JSON.stringify({ auth: { token: tok } }));
    sock.onmessage = (ev) => {
      if (sock !== ws) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      onMessage(msg);
    };
    sock.onclose = () => {
      if (sock !== ws) return;
      ws = null;
      authed = false;
      for (const s of subs.values()) s.acked = false;
      if (subs.size) scheduleRetry();
      else setState('closed');
    };
    sock.onerror = () => {}; // onclose follows
  }

  function scheduleRetry() {
    if (retryTimer || !subs.size) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    attempt = Math.min(attempt + 1, 16);
    setState('retrying');
    retryTimer = setTimeout(connect, base / 2 + Math.random() * base / 2);
  }

  function onMessage(msg) {
    if (msg.auth === 'ok') {
      authed = true;
      attempt = 0;
      setState('open');
      for (const [id, s] of subs) sendSubscribe(id, s.spec);
      return;
    }
    if (typeof msg.sub === 'number') {
      const s = subs.get(msg.sub);
      if (s) {
        try { s.cb(msg); } catch (e) { console.error(e); }
      }
      return;
    }
    if (typeof msg.id === 'number') {
      const s = subs.get(msg.id);
      if (!s) return;
      if (msg.ok) s.acked = true;
      else if (s.onError) s.onError(msg.error || { code: 'internal', message: 'subscribe failed' });
    }
  }

  function closeIfIdle() {
    idleTimer = 0;
    if (subs.size) return;
    clearTimeout(retryTimer);
    retryTimer = 0;
    attempt = 0;
    if (ws) {
      const s = ws;
      ws = null;
      s.close(1000, 'no subscriptions');
    }
    authed = false;
    setState('closed');
  }

  return {
    /**
     * Subscribe to spec = {type: 'telemetry'|'state'|'rpc', device_id | asset_id, keys?}.
     * cb(msg) gets every update ({sub, type, device_id, ts, values | fields}). onError(err)
     * (optional) gets the server's refusal {code, message}. Returns the unsubscribe function.
     */
    subscribe(spec, cb, onError) {
      const id = nextId++;
      subs.set(id, { spec, cb, onError, acked: false });
      clearTimeout(idleTimer);
      idleTimer = 0;
      if (!ws) connect();
      else if (authed) sendSubscribe(id, spec);
      return () => {
        if (!subs.delete(id)) return;
        if (authed) send({ cmd: 'unsubscribe', id });
        if (!subs.size && !idleTimer) idleTimer = setTimeout(closeIfIdle, IDLE_CLOSE_MS);
      };
    },
    /** Connection state: 'closed' | 'connecting' | 'open' | 'retrying'. */
    status: () => state,
    /** Call fn(state) on every change; returns the function that stops it. */
    onStatus(fn) {
      statusFns.add(fn);
      return () => statusFns.delete(fn);
    },
    /** Number of live subscriptions (for tests). */
    size: () => subs.size,
  };
}

/** The console's shared client. */
export const live = createLive();
