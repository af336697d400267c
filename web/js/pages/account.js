// SPDX-License-Identifier: Apache-2.0
// Account page (#/account): who the signed-in principal is (name, e-mail, role, tenant,
// region, how it signed in), change password (POST /api/v1/auth/password; the server's
// policy messages are shown), the UI language, and sign out.

import { h } from '../core/dom.js';
import { api, authKind, clearToken } from '../core/api.js';
import { setLang, getLang, LANGS } from '../core/i18n.js';
import { field, ready, pageHeader, toast } from '../core/ui.js';

function row(label, value, testid) {
  return [h('dt', null, label), h('dd', { dataset: testid ? { testid } : null, title: value || '' }, value || '—')];
}

function passwordForm(ctx) {
  const { t } = ctx;
  const cur = h('input', { type: 'password', autocomplete: 'current-password' });
  const nw = h('input', { type: 'password', autocomplete: 'new-password' });
  const rep = h('input', { type: 'password', autocomplete: 'new-password' });
  const fCur = field({ label: t('core.account.password.current'), input: cur, required: true });
  const fNew = field({ label: t('core.account.password.new'), input: nw, required: true, hint: t('core.account.password.hint') });
  const fRep = field({ label: t('core.account.password.repeat'), input: rep, required: true });
  const msg = h('p.form-error', { role: 'alert', hidden: true });
  const btn = h('button.btn.primary', { type: 'submit' }, t('core.account.password.submit'));
  function clearErrors() {
    [fCur, fNew, fRep].forEach((f) => f.setError(null));
    msg.hidden = true;
  }
  async function onSubmit(e) {
    e.preventDefault();
    clearErrors();
    if (!cur.value) return void (fCur.setError(t('core.form.required')), cur.focus());
    if (!nw.value) return void (fNew.setError(t('core.form.required')), nw.focus());
    if (nw.value !== rep.value) return void (fRep.setError(t('core.account.password.mismatch')), rep.focus());
    btn.disabled = true;
    try {
      await api.post('/api/v1/auth/password', { old_password: cur.value, new_password: nw.value }, { noRedirect: true });
      cur.value = nw.value = rep.value = '';
      toast(t('core.account.password.done'), 'success');
    } catch (err) {
      const code = err.body && err.body.error && err.body.error.code;
      if (code === 'wrong_password') {
        fCur.setError(t('core.account.password.wrong_current'));
        cur.focus();
      } else if (code === 'same_password') {
        fNew.setError(t('core.account.password.same'));
        nw.focus();
      } else if (code === 'weak_password' || (err.status === 400 && code !== 'session_required')) {
        fNew.setError(err.message);
        nw.focus();
      } else if (err.status === 429) {
        msg.textContent = t('core.error.retry_in', { s: err.retryAfter || 1 });
        msg.hidden = false;
      } else {
        msg.textContent = err.status === 0 ? t('core.error.network') : err.message;
        msg.hidden = false;
      }
    } finally {
      btn.disabled = false;
    }
  }
  return h('form.stack', { novalidate: true, onSubmit, 'aria-labelledby': 'acct-pw' }, fCur, fNew, fRep, msg, h('div', null, btn));
}

export default {
  route: '/account',
  nav: null,
  title: 'core.account.title',
  roles: null,
  async render(root, params, ctx) {
    const { t, me } = ctx;
    const u = me.user || {};
    let tenant = '';
    if (me.tenant_id) {
      try {
        const tn = await api.get(`/api/v1/tenants/${encodeURIComponent(me.tenant_id)}`);
        tenant = tn && tn.name ? tn.name : me.tenant_id;
      } catch (e) {
        tenant = me.tenant_id;
      }
    }
    const kind = authKind();
    const langs = h('div.radio-row', { role: 'radiogroup', 'aria-labelledby': 'acct-lang' },
      LANGS.map((l) => {
        const id = `acct-lang-${l}`;
        return h('label.radio', { for: id }, h('input', {
          type: 'radio', name: 'lang', id, value: l, checked: getLang() === l,
          onChange: () => setLang(l),
        }), l === 'zh-CN' ? '简体中文' : 'English');
      }));
    const signOut = h('button.btn.danger', {
      type: 'button',
      onClick: async () => {
        if (authKind() === 'password') {
          try {
            await api.post('/api/v1/auth/logout', undefined, { noRedirect: true });
          } catch (e) { /* forgotten locally anyway */ }
        }
        clearToken();
        location.hash = '#/login';
        location.reload();
      },
    }, t('core.action.sign_out'));

    root.append(
      pageHeader(t('core.account.title')),
      h('div.cards', null,
        h('section.card', { 'aria-labelledby': 'acct-who' },
          h('h2', { id: 'acct-who' }, t('core.account.whoami')),
          h('dl.kv', null,
            row(t('core.account.name'), u.name, 'acct-name'),
            row(t('core.account.email'), u.email, 'acct-email'),
            row(t('core.account.role'), t(`core.role.${me.role}`), 'acct-role'),
            me.tenant_id ? row(t('core.account.tenant'), tenant, 'acct-tenant') : null,
            me.region_code ? row(t('core.account.region'), me.region_code) : null,
            row(t('core.account.signed_in_with'), kind === 'token' ? t('core.account.via_token') : t('core.account.via_password')))),
        h('section.card', { 'aria-labelledby': 'acct-pw' },
          h('h2', { id: 'acct-pw' }, t('core.account.password.title')),
          !me.user ? h('p.muted', null, t('core.account.password.no_user'))
            : kind === 'token' ? h('p.muted', null, t('core.account.password.need_session'))
              : passwordForm(ctx)),
        h('section.card', { 'aria-labelledby': 'acct-lang' },
          h('h2', { id: 'acct-lang' }, t('core.account.lang')), langs),
        h('section.card', { 'aria-labelledby': 'acct-out' },
          h('h2', { id: 'acct-out' }, t('core.action.sign_out')),
          h('p.muted', null, kind === 'token' ? t('core.account.signout_token') : t('core.account.signout_hint')),
          signOut)));
    ready(root);
    return null;
  },
};
