// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the administration tabs: who may do what (a mirror of the server's
// policy, used only to hide what would be refused), the "no access" panel, forms whose
// server errors land next to the field they name, list loading and paging, and small formatters.

import { h, clear } from '../../core/dom.js';
import { t } from '../../core/i18n.js';
import { field, toast, dialog, ready, loading, errorState, emptyState } from '../../core/ui.js';
import { dateTime } from '../../core/format.js';

export const ROLES = ['platform_admin', 'tenant_admin', 'engineer', 'operator', 'viewer', 'regional_observer'];
export const TENANT_ROLES = ['tenant_admin', 'engineer', 'operator', 'viewer'];
export const SCOPES = ['read', 'write', 'admin'];

/** can(me, roles): whether me.role is in roles (null = everyone signed in). */
export function can(me, roles) {
  return !roles || (me && roles.includes(me.role));
}

/** grantable(me): the roles me may give to a user (sec_policy_check_grant). */
export function grantable(me) {
  if (!me) return [];
  if (me.role === 'platform_admin') return ROLES;
  if (me.role === 'tenant_admin') return TENANT_ROLES;
  return [];
}

/** forbidden(root, what): the "you do not have access" panel (data-testid admin-forbidden; like
 * the shell's 403 error panel, .state-error[data-status="403"]). */
export function forbidden(root, what) {
  clear(root);
  root.appendChild(h('div.state.state-error.admin-forbidden', { role: 'alert', 'data-testid': 'admin-forbidden', dataset: { status: '403' } },
    h('p.state-title', null, t('admin.forbidden.title')),
    h('p.state-detail', null, t('admin.forbidden.detail', { what }))));
  ready(root);
}

/** when(ms): date and time, or '—'. */
export function when(ms) {
  return ms === null || ms === undefined ? '—' : dateTime(ms);
}

/** roleName(role): the translated role name. */
export function roleName(role) {
  return role ? t(`admin.role.${role}`) : '—';
}

/**
 * fieldOf(message, names): the field a server error names ("field 'email': ...",
 * "role: ...", "the password must ..."), if it is one of names; else null.
 */
export function fieldOf(message, names) {
  const m = /^(?:field\s+)?'?([A-Za-z_]+)'?\s*:/.exec(String(message || ''));
  if (m && names.includes(m[1])) return m[1];
  if (/password/i.test(message) && names.includes('password')) return 'password';
  for (const n of names) if (String(message).includes(`'${n}'`)) return n;
  return null;
}

/**
 * form({fields, submitKey, onSubmit, testid}) -> <form>. fields: [{name, label (text),
 * input (element), hint?, required?}]. Enter submits; the submit button is disabled while
 * onSubmit(values, form) runs; an ApiError from it is shown next to the field it names or
 * at the top. values: name -> input value ('' for empty; checkboxes: boolean).
 * The element has fieldEl(name) and values().
 */
export function form({ fields, submitKey = 'admin.action.save', onSubmit, testid, extra }) {
  const top = h('div.form-error', { role: 'alert', hidden: true, 'data-testid': 'form-error' });
  const wrapped = {};
  const els = fields.map((f) => {
    f.input.name = f.name;
    const el = field({ label: f.label, input: f.input, hint: f.hint, required: f.required });
    wrapped[f.name] = el;
    if (f.hidden) el.hidden = true;
    return el;
  });
  const submit = h('button.btn.primary', { type: 'submit' }, t(submitKey));
  const el = h('form.admin-form', { novalidate: true, 'data-testid': testid || null }, top, els, extra || null,
    h('div.form-actions', null, submit));
  function values() {
    const out = {};
    for (const f of fields) out[f.name] = f.input.type === 'checkbox' ? f.input.checked : f.input.value.trim();
    return out;
  }
  function clearErrors() {
    top.hidden = true;
    top.textContent = '';
    for (const w of Object.values(wrapped)) w.setError(null);
  }
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    clearErrors();
    for (const f of fields) {
      if (f.required && !wrapped[f.name].hidden && !values()[f.name]) {
        wrapped[f.name].setError(t('admin.form.required'));
        f.input.focus();
        return;
      }
    }
    submit.disabled = true;
    el.setAttribute('aria-busy', 'true');
    try {
      await onSubmit(values(), el);
    } catch (err) {
      const msg = err && err.message ? err.message : String(err);
      const name = err && err.status > 0 ? fieldOf(msg, fields.map((f) => f.name)) : null;
      if (name && !wrapped[name].hidden) {
        wrapped[name].setError(msg);
        fields.find((f) => f.name === name).input.focus();
      } else {
        top.textContent = err && err.status === 0 ? t('core.error.network') : msg;
        top.hidden = false;
      }
    } finally {
      submit.disabled = false;
      el.removeAttribute('aria-busy');
    }
  });
  el.fieldEl = (name) => wrapped[name];
  el.values = values;
  return el;
}

/**
 * formDialog({title, fields, submitKey, onSubmit, testid}) -> Promise of onSubmit's result
 * (undefined when cancelled). onSubmit(values) runs the request; when it resolves the dialog
 * closes with its value, when it throws the error is shown in the form.
 */
export function formDialog({ title, fields, submitKey, onSubmit, testid, extra }) {
  let d;
  const f = form({
    fields, submitKey, testid, extra,
    onSubmit: async (v) => {
      const r = await onSubmit(v);
      d.close(r === undefined ? true : r);
    },
  });
  d = dialog({ title, body: f, actions: [{ label: t('core.action.cancel'), value: undefined }] });
  return d.result;
}

/** input(attrs), select(options, value): small builders. options: [[value, label]]. */
export function input(attrs = {}) {
  return h('input', { type: 'text', ...attrs });
}
export function select(options, value, attrs = {}) {
  const s = h('select', attrs, options.map(([v, label]) => h('option', { value: v }, label)));
  if (value !== undefined && value !== null) s.value = value;
  return s;
}

/**
 * pager({page, hasNext, totalPages, onPage}) -> <nav> with Previous / "Page x of y" / Next.
 * page is 0-based.
 */
export function pager({ page, hasNext, totalPages, onPage }) {
  const prev = h('button.btn', { type: 'button', disabled: page <= 0, onClick: () => onPage(page - 1) }, t('admin.page.prev'));
  const next = h('button.btn', { type: 'button', disabled: !hasNext, onClick: () => onPage(page + 1) }, t('admin.page.next'));
  return h('nav.admin-pager', { 'aria-label': t('admin.page.label') }, prev,
    h('span.muted', null, t('admin.page.of', { page: page + 1, pages: Math.max(1, totalPages || 1) })), next);
}

/** done(key, vars): a success toast. */
export function done(key, vars) {
  toast(t(key, vars), 'success');
}

/** actions(...buttons): a cell of row action buttons. */
export function actions(...buttons) {
  return h('div.row-actions', null, buttons.filter(Boolean));
}

/** smallBtn(labelKey, onClick, {danger, testid, name}): a row action button whose accessible
 * name also says what it acts on (name). */
export function smallBtn(labelKey, onClick, { danger, testid, name } = {}) {
  return h('button.btn.small', { type: 'button', class: [danger && 'danger'], 'data-testid': testid || null,
    'aria-label': name ? `${t(labelKey)}: ${name}` : null, onClick }, t(labelKey));
}

const KIND = { enabled: 'ok', active: 'ok', success: 'ok', disabled: 'off', revoked: 'off', expired: 'off',
  failure: 'bad', denied: 'bad' };

/** stateBadge(state): a colored label like ui.badge, text from admin.state.<state>. */
export function stateBadge(state) {
  const s = String(state || 'unknown');
  return h('span.badge', { class: `badge-${KIND[s] || 'off'}`, dataset: { state: s } },
    h('span.dot', { 'aria-hidden': 'true' }), t(`admin.state.${s}`));
}

/** One page of a list into body: the loading state, then fetch(). A failure draws the error
 * state (retry calls retry) and an empty list with empty=true draws emptyKey's empty state;
 * both call markReady() and give null. Otherwise body is cleared and the answer is returned. */
export async function listRows(body, { fetch, retry, empty, emptyKey, markReady }) {
  loading(body);
  let res;
  try {
    res = await fetch();
  } catch (err) {
    errorState(body, err, retry);
    markReady();
    return null;
  }
  clear(body);
  body.removeAttribute('aria-busy');
  const rows = res.data || [];
  if (!rows.length && empty) {
    emptyState(body, emptyKey);
    markReady();
    return null;
  }
  return res;
}
