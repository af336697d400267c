// SPDX-License-Identifier: Apache-2.0
// Shared components of the console: page states (loading, error, empty), table, dialog,
// confirm, copy button, form field, tabs, state badge, toasts and the time range picker.
// They build DOM with h() (text only), take i18n keys or already translated text as each
// documents, and are keyboard usable. Pages import what they need from here.

import { h, clear, icon, uid, ellipsis } from './dom.js';
import { t, has } from './i18n.js';
import { relTime as fmtRelTime, dateTime } from './format.js';

/** ready(root): mark root as drawn (the data-ready readiness marker tests wait for). */
export function ready(root) {
  root.setAttribute('data-ready', '');
  root.removeAttribute('aria-busy');
}

function readyIfPage(root) {
  if (root.hasAttribute('data-page')) ready(root);
}

/** loading(root): replace root's content by a loading indicator; removes data-ready. */
export function loading(root) {
  clear(root);
  root.removeAttribute('data-ready');
  root.setAttribute('aria-busy', 'true');
  root.appendChild(h('div.state.state-loading', { role: 'status' },
    h('span.spinner', { 'aria-hidden': 'true' }), h('span', null, has('core.loading') ? t('core.loading') : '…')));
}

/**
 * errorMessage(err) -> {title, detail}: translated texts for an ApiError (status 0, 403,
 * 404, 5xx, others: the server's message) or any other Error.
 */
export function errorMessage(err) {
  const st = err && typeof err.status === 'number' ? err.status : -1;
  if (st === 0) return { title: t('core.error.network'), detail: t('core.error.network_detail') };
  if (st === 403) return { title: t('core.error.forbidden'), detail: t('core.error.forbidden_detail') };
  if (st === 404) return { title: t('core.error.not_found'), detail: err.message || '' };
  if (st === 429) {
    return { title: t('core.error.busy'), detail: err.retryAfter ? t('core.error.retry_in', { s: err.retryAfter }) : err.message };
  }
  if (st >= 500) return { title: t('core.error.server'), detail: err.message || '' };
  if (st > 0) return { title: t('core.error.request'), detail: err.message || '' };
  return { title: t('core.error.unexpected'), detail: (err && err.message) || String(err) };
}

/**
 * errorState(root, err, retryFn?): replace root's content by an error panel for err (see
 * errorMessage) with a Retry button when retryFn is given. On a page root it also sets
 * data-ready. Returns the panel.
 */
export function errorState(root, err, retryFn) {
  clear(root);
  root.removeAttribute('aria-busy');
  const { title, detail } = errorMessage(err);
  const st = err && typeof err.status === 'number' ? err.status : -1;
  const panel = h('div.state.state-error', { role: 'alert', dataset: { status: String(st) } },
    icon(st === 403 ? 'admin' : 'alert', 28),
    h('p.state-title', null, title),
    detail ? h('p.state-detail', null, detail) : null,
    retryFn ? h('button.btn', { type: 'button', onClick: () => retryFn() }, icon('refresh'), t('core.action.retry')) : null);
  root.appendChild(panel);
  readyIfPage(root);
  return panel;
}

/**
 * emptyState(root, textKey, actionEl?): replace root's content by a calm "nothing here"
 * panel with the text of textKey and an optional action element (e.g. a "Create" button).
 * On a page root it also sets data-ready. Returns the panel.
 */
export function emptyState(root, textKey, actionEl) {
  clear(root);
  root.removeAttribute('aria-busy');
  const panel = h('div.state.state-empty', null, h('p.state-title', null, t(textKey)), actionEl || null);
  root.appendChild(panel);
  readyIfPage(root);
  return panel;
}

/** pageHeader(title, ...actions): the page's <header> with an h1 (ellipsis + tooltip). */
export function pageHeader(title, ...actions) {
  return h('header.page-header', null, ellipsis('h1', title), h('div.page-actions', null, ...actions));
}

function cmp(a, b) {
  const na = a === null || a === undefined || a === '';
  const nb = b === null || b === undefined || b === '';
  if (na || nb) return na === nb ? 0 : na ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

/**
 * table({columns, rows, empty, caption, onRowClick, rowKey}) -> element (a horizontally
 * scrolling wrapper around a <table>).
 * columns: [{key, label, render?(row) -> Node|string, sort?: true | (a, b) => number,
 *   num?: true (right-aligned tabular numbers), width?: css, wrap?: true}]. label is text
 *   (already translated). Cells without render show row[key] on one line, ellipsis, title.
 * rows: array of objects. empty: i18n key shown when rows is empty (default core.empty).
 * caption: optional text (visually hidden, for screen readers).
 * onRowClick(row): rows become focusable and Enter/click calls it.
 * The element has setRows(rows) to redraw the body (keeps sorting).
 */
export function table({ columns, rows, empty = 'core.empty', caption, onRowClick, rowKey } = {}) {
  let data = rows || [];
  let sortKey = null;
  let sortDir = 1;
  const tbody = h('tbody');
  const ths = columns.map((c) => {
    const th = h('th', { scope: 'col', class: [c.num && 'num'], style: c.width ? { width: c.width } : null });
    if (c.sort) {
      const btn = h('button.th-sort', { type: 'button' }, c.label, icon('sort', 14));
      btn.addEventListener('click', () => {
        if (sortKey === c.key) sortDir = -sortDir;
        else {
          sortKey = c.key;
          sortDir = 1;
        }
        draw();
      });
      th.appendChild(btn);
      th.setAttribute('aria-sort', 'none');
    } else th.appendChild(document.createTextNode(c.label === undefined ? '' : String(c.label)));
    return th;
  });

  function cell(c, row) {
    const td = h('td', { class: [c.num && 'num', c.wrap && 'wrap'] });
    const v = c.render ? c.render(row) : row[c.key];
    if (v instanceof Node) td.appendChild(v);
    else if (v !== null && v !== undefined) {
      const s = String(v);
      if (c.wrap) td.textContent = s;
      else td.appendChild(ellipsis('span', s));
    }
    return td;
  }

  function draw() {
    clear(tbody);
    ths.forEach((th, i) => {
      const c = columns[i];
      if (!c.sort) return;
      th.setAttribute('aria-sort', sortKey === c.key ? (sortDir > 0 ? 'ascending' : 'descending') : 'none');
    });
    let list = data;
    if (sortKey) {
      const c = columns.find((x) => x.key === sortKey);
      const f = typeof c.sort === 'function' ? c.sort : (a, b) => cmp(a[sortKey], b[sortKey]);
      list = [...data].sort((a, b) => sortDir * f(a, b));
    }
    if (!list.length) {
      tbody.appendChild(h('tr.empty-row', null, h('td', { colspan: columns.length }, t(empty))));
      return;
    }
    for (const row of list) {
      const tr = h('tr', rowKey ? { dataset: { key: String(row[rowKey]) } } : null, columns.map((c) => cell(c, row)));
      if (onRowClick) {
        tr.classList.add('clickable');
        tr.tabIndex = 0;
        tr.addEventListener('click', (e) => {
          if (e.target.closest('a,button,input,select,textarea')) return;
          onRowClick(row);
        });
        tr.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' && e.target === tr) onRowClick(row);
        });
      }
      tbody.appendChild(tr);
    }
  }

  const tableEl = h('table.data', null, caption ? h('caption.sr-only', null, caption) : null,
    h('thead', null, h('tr', null, ths)), tbody);
  const wrap = h('div.table-wrap', { tabindex: '0', role: 'region', 'aria-label': caption || null }, tableEl);
  if (!caption) wrap.removeAttribute('role');
  wrap.setRows = (r) => {
    data = r || [];
    draw();
  };
  draw();
  return wrap;
}

/**
 * dialog({title, body, actions, wide}) -> {el, close(value), result}.
 * A modal <dialog>: focus stays inside, Esc or the close button close it (result resolves
 * to undefined), focus returns to the element focused before. title: text; body: Node or
 * text; actions: [{label, kind?: 'primary'|'danger', onClick?(close) -> false keeps it open
 * (may be async), value?}] (default: one Close button). Clicking an action without onClick
 * closes with its value.
 */
export function dialog({ title, body, actions, wide } = {}) {
  const prev = document.activeElement;
  const titleId = uid('dlg');
  let resolve;
  const result = new Promise((r) => { resolve = r; });
  const el = h('dialog.dialog', { 'aria-labelledby': titleId, class: [wide && 'wide'] });
  let done = false;
  function close(value) {
    if (done) return;
    done = true;
    if (el.open) el.close();
    el.remove();
    if (prev && typeof prev.focus === 'function' && document.contains(prev)) prev.focus();
    resolve(value);
  }
  const acts = (actions && actions.length ? actions : [{ label: t('core.action.close') }]).map((a) => {
    const b = h('button.btn', { type: 'button', class: [a.kind === 'primary' && 'primary', a.kind === 'danger' && 'danger'] }, a.label);
    b.addEventListener('click', async () => {
      if (!a.onClick) {
        close(a.value);
        return;
      }
      b.disabled = true;
      try {
        const keep = await a.onClick(close);
        if (keep !== false) close(a.value);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  });
  el.append(
    h('header.dialog-head', null, h('h2', { id: titleId }, title || ''),
      h('button.icon-btn', { type: 'button', 'aria-label': t('core.action.close'), onClick: () => close(undefined) }, icon('close'))),
    h('div.dialog-body', null, body instanceof Node ? body : h('p', null, body === undefined ? '' : String(body))),
    h('footer.dialog-actions', null, acts));
  el.addEventListener('cancel', (e) => {
    e.preventDefault();
    close(undefined);
  });
  document.body.appendChild(el);
  el.showModal();
  const auto = el.querySelector('[autofocus], .dialog-body input, .dialog-body select, .dialog-body textarea') ||
    acts.find((b) => b.classList.contains('primary')) || acts[acts.length - 1];
  if (auto) auto.focus();
  return { el, close, result };
}

/**
 * confirmDialog(textKey, {vars, titleKey, okKey, danger}) -> Promise<bool>: a modal question
 * with Cancel and OK (danger styles OK red); true only when OK was chosen.
 */
export function confirmDialog(textKey, { vars, titleKey = 'core.confirm.title', okKey = 'core.action.ok', danger = false } = {}) {
  const d = dialog({
    title: t(titleKey),
    body: h('p', null, t(textKey, vars)),
    actions: [
      { label: t('core.action.cancel'), value: false },
      { label: t(okKey), kind: danger ? 'danger' : 'primary', value: true },
    ],
  });
  return d.result.then((v) => v === true);
}

function copyFallback(s) {
  const ta = h('textarea', { readonly: true, style: { position: 'fixed', left: '-9999px', top: '0' } });
  ta.value = s;
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch (e) {
    ok = false;
  }
  ta.remove();
  return ok;
}

/** copyText(s) -> Promise<bool>: copy s to the clipboard (works on plain http too). */
export async function copyText(s) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(s);
      return true;
    } catch (e) { /* fall through to the old way */ }
  }
  return copyFallback(s);
}

/**
 * copyButton(text, {label}) -> <button>: copies text (a string, or a function returning
 * one) and toasts "Copied". label: visible text (default: icon only, aria-label "Copy").
 */
export function copyButton(text, { label } = {}) {
  const b = h('button.btn.copy-btn', { type: 'button', class: [!label && 'icon-only'], 'aria-label': label ? null : t('core.action.copy'), title: t('core.action.copy') },
    icon('copy', 16), label || null);
  b.addEventListener('click', async () => {
    const s = typeof text === 'function' ? text() : text;
    const ok = await copyText(String(s === null || s === undefined ? '' : s));
    toast(ok ? t('core.copied') : t('core.copy_failed'), ok ? 'success' : 'error');
    if (ok) {
      b.classList.add('copied');
      setTimeout(() => b.classList.remove('copied'), 1500);
    }
  });
  return b;
}

/**
 * field({label, input, hint, error, required}) -> <div class=field> with a <label> tied to
 * input (an id is assigned when missing). label/hint/error: text. The element has
 * setError(text|null) to show or clear a message (aria-invalid + aria-describedby).
 */
export function field({ label, input, hint, error, required } = {}) {
  if (!input.id) input.id = uid('f');
  const hintEl = hint ? h('small.field-hint', { id: uid('h') }, hint) : null;
  const errEl = h('small.field-error', { id: uid('e'), hidden: true, role: 'alert' });
  if (required) input.required = true;
  const el = h('div.field', null, h('label', { for: input.id }, label, required ? h('span.req', { 'aria-hidden': 'true' }, ' *') : null), input, hintEl, errEl);
  function describe() {
    const ids = [hintEl && hintEl.id, !errEl.hidden && errEl.id].filter(Boolean);
    if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
    else input.removeAttribute('aria-describedby');
  }
  el.setError = (msg) => {
    errEl.textContent = msg || '';
    errEl.hidden = !msg;
    if (msg) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    describe();
  };
  describe();
  if (error) el.setError(error);
  return el;
}

/**
 * tabs(list, {active, onChange}) -> element. list: [{id, label (text), render(panel)}].
 * ARIA tabs: arrow keys / Home / End move between tabs, the selected tab's render(panel)
 * draws into a fresh panel (render may return a cleanup function, called on the next
 * switch). onChange(id) after a switch (e.g. to update the URL). The element has select(id).
 */
export function tabs(list, { active, onChange } = {}) {
  const base = uid('tab');
  const panel = h('div.tab-panel', { role: 'tabpanel', tabindex: '0' });
  let cleanup = null;
  let cur = null;
  const buttons = list.map((tb, i) => h('button.tab', {
    type: 'button', role: 'tab', id: `${base}-${tb.id}`, 'aria-controls': `${base}-panel`,
    'aria-selected': 'false', tabindex: '-1', dataset: { tab: tb.id },
    onClick: () => select(tb.id, true),
    onKeydown: (e) => {
      let j = null;
      if (e.key === 'ArrowRight') j = (i + 1) % list.length;
      else if (e.key === 'ArrowLeft') j = (i - 1 + list.length) % list.length;
      else if (e.key === 'Home') j = 0;
      else if (e.key === 'End') j = list.length - 1;
      if (j === null) return;
      e.preventDefault();
      select(list[j].id, true);
      buttons[j].focus();
    },
  }, tb.label));
  panel.id = `${base}-panel`;
  const bar = h('div.tabs', { role: 'tablist' }, buttons);
  const el = h('div.tabs-wrap', null, bar, panel);
  function select(id, user) {
    const i = Math.max(0, list.findIndex((x) => x.id === id));
    if (cur === list[i].id && !user) return;
    const changed = cur !== list[i].id;
    cur = list[i].id;
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(j === i));
      b.tabIndex = j === i ? 0 : -1;
    });
    panel.setAttribute('aria-labelledby', buttons[i].id);
    if (!changed) return;
    if (typeof cleanup === 'function') cleanup();
    cleanup = null;
    clear(panel);
    cleanup = list[i].render(panel);
    if (user && onChange) onChange(cur);
  }
  el.select = (id) => select(id, false);
  el.destroy = () => {
    if (typeof cleanup === 'function') cleanup();
    cleanup = null;
  };
  if (list.length) select(active && list.some((x) => x.id === active) ? active : list[0].id, false);
  return el;
}

const STATE_KIND = {
  online: 'ok', ok: 'ok', healthy: 'ok', successful: 'ok', delivered: 'ok', active: 'ok', verified: 'ok', success: 'ok', enabled: 'ok',
  offline: 'off', unknown: 'off', disabled: 'off', expired: 'off', revoked: 'off', inactive: 'off', never: 'off',
  warning: 'warn', degraded: 'warn', queued: 'warn', sent: 'warn', pending: 'warn', stale: 'warn',
  error: 'bad', failed: 'bad', failure: 'bad', alarm: 'bad', critical: 'bad', timeout: 'bad', denied: 'bad', broken: 'bad', down: 'bad',
};

/** badge(state) -> <span>: a colored state label (green ok, grey off, amber warn, red bad);
 * text from core.state.<state> when translated, else the state itself. */
export function badge(state) {
  const s = String(state === null || state === undefined ? 'unknown' : state);
  const kind = STATE_KIND[s.toLowerCase()] || 'off';
  const label = has(`core.state.${s}`) ? t(`core.state.${s}`) : s;
  return h('span.badge', { class: `badge-${kind}`, dataset: { state: s } }, h('span.dot', { 'aria-hidden': 'true' }), label);
}

function toastRegion() {
  let r = document.getElementById('toasts');
  if (!r) {
    r = h('div.toasts', { id: 'toasts', 'aria-live': 'polite', role: 'status' });
    document.body.appendChild(r);
  }
  return r;
}

/** toast(msg, kind='info'): a short message in the polite live region (info, success,
 * warn, error); dismissed after 4 s (errors 8 s) or by its close button. */
export function toast(msg, kind = 'info') {
  const el = h('div.toast', { class: `toast-${kind}` }, h('span', null, String(msg)),
    h('button.icon-btn', { type: 'button', 'aria-label': t('core.action.close'), onClick: () => el.remove() }, icon('close', 14)));
  toastRegion().appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
  return el;
}

/** The quick ranges of timeRangePicker, in ms. */
export const QUICK_RANGES = { '15m': 9e5, '1h': 36e5, '6h': 216e5, '24h': 864e5, '7d': 6048e5, '30d': 2592e6, '90d': 7776e6 };

/** rangeOf(value): {from_ms, to_ms, quick} with a quick range re-anchored at now. */
export function rangeOf(value, now = Date.now()) {
  if (value && value.quick && QUICK_RANGES[value.quick]) return { quick: value.quick, from_ms: now - QUICK_RANGES[value.quick], to_ms: now };
  if (value && Number.isFinite(value.from_ms) && Number.isFinite(value.to_ms)) return { quick: null, from_ms: value.from_ms, to_ms: value.to_ms };
  return rangeOf({ quick: '1h' }, now);
}

function toLocalInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * timeRangePicker({value, onChange}) -> element. value = {from_ms, to_ms, quick} (quick one
 * of QUICK_RANGES' keys, or null for an absolute range). A select of quick ranges plus
 * "Custom" revealing from/to inputs and Apply. onChange(rangeOf(newValue)).
 * The element has getValue() and setValue(v).
 */
export function timeRangePicker({ value, onChange } = {}) {
  let cur = rangeOf(value);
  const sel = h('select.range-quick', null,
    Object.keys(QUICK_RANGES).map((k) => h('option', { value: k }, t(`core.range.${k}`))),
    h('option', { value: 'custom' }, t('core.range.custom')));
  const from = h('input', { type: 'datetime-local' });
  const to = h('input', { type: 'datetime-local' });
  const err = h('small.field-error', { hidden: true, role: 'alert' });
  const apply = h('button.btn', { type: 'button' }, t('core.action.apply'));
  const custom = h('div.range-custom', { hidden: true },
    field({ label: t('core.range.from'), input: from }), field({ label: t('core.range.to'), input: to }), apply, err);
  function show() {
    sel.value = cur.quick || 'custom';
    custom.hidden = !!cur.quick;
    from.value = toLocalInput(cur.from_ms);
    to.value = toLocalInput(cur.to_ms);
  }
  sel.addEventListener('change', () => {
    if (sel.value === 'custom') {
      custom.hidden = false;
      from.value = toLocalInput(cur.from_ms);
      to.value = toLocalInput(cur.to_ms);
      from.focus();
      return;
    }
    cur = rangeOf({ quick: sel.value });
    custom.hidden = true;
    if (onChange) onChange(cur);
  });
  apply.addEventListener('click', () => {
    const f = new Date(from.value).getTime();
    const tt = new Date(to.value).getTime();
    if (!Number.isFinite(f) || !Number.isFinite(tt) || f >= tt) {
      err.textContent = t('core.range.invalid');
      err.hidden = false;
      return;
    }
    err.hidden = true;
    cur = { quick: null, from_ms: f, to_ms: tt };
    if (onChange) onChange(cur);
  });
  const el = h('div.range-picker', null, field({ label: t('core.range.label'), input: sel }), custom);
  el.getValue = () => rangeOf(cur);
  el.setValue = (v) => {
    cur = rangeOf(v);
    show();
  };
  show();
  return el;
}

/** relTime(ms) -> element <time> with "5 minutes ago" and the exact time as tooltip. */
export function relTime(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return h('span.muted', null, t('core.never'));
  return h('time', { datetime: new Date(Number(ms)).toISOString(), title: dateTime(ms) }, fmtRelTime(ms));
}
