// SPDX-License-Identifier: Apache-2.0
// Sign-in page (#/login?next=<hash>): e-mail + password (POST /api/v1/auth/login) or a
// pasted API token (checked with GET /api/v1/auth/me), "stay signed in" (localStorage
// instead of sessionStorage). Shows wrong-credential, back-off (429 Retry-After countdown)
// and server-down errors; on success goes to `next` or the role's default page.

import { h, icon } from '../core/dom.js';
import { api, setToken } from '../core/api.js';
import { field, ready } from '../core/ui.js';

function safeNext(next) {
  return typeof next === 'string' && /^#\/[^\s]*$/.test(next) && !next.startsWith('#/login') ? next : null;
}

export default {
  route: '/login',
  nav: null,
  title: 'core.login.title',
  roles: 'public',
  async render(root, params, ctx) {
    const { t } = ctx;
    const next = safeNext(params.next);
    if (ctx.me) {
      ctx.navigate(next || ctx.defaultHash());
      return null;
    }
    let mode = params.mode === 'token' ? 'token' : 'password';
    let timer = null;

    const email = h('input', { type: 'email', name: 'username', dataset: { testid: 'login-email' }, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' });
    const password = h('input', { type: 'password', name: 'password', dataset: { testid: 'login-password' }, autocomplete: 'current-password' });
    const token = h('input', { type: 'password', name: 'token', dataset: { testid: 'login-token' }, autocomplete: 'off', spellcheck: 'false', class: 'mono' });
    const stay = h('input', { type: 'checkbox', name: 'stay', id: 'login-stay' });
    const msg = h('p.form-error', { role: 'alert', hidden: true, dataset: { testid: 'login-error' } });
    const submit = h('button.btn.primary.wide', { type: 'submit', dataset: { testid: 'login-submit' } }, t('core.login.submit'));
    const pwFields = h('div', null, field({ label: t('core.login.email'), input: email, required: true }),
      field({ label: t('core.login.password'), input: password, required: true }));
    const tokFields = h('div', null, field({ label: t('core.login.token'), input: token, required: true, hint: t('core.login.token_hint') }));
    const toggle = h('button.link-btn', { type: 'button', 'aria-controls': 'login-form', dataset: { testid: 'login-token-toggle' } });

    function showMode() {
      pwFields.hidden = mode !== 'password';
      tokFields.hidden = mode !== 'token';
      email.required = password.required = mode === 'password';
      token.required = mode === 'token';
      toggle.textContent = mode === 'password' ? t('core.login.use_token') : t('core.login.use_password');
      toggle.setAttribute('aria-pressed', String(mode === 'token'));
    }
    toggle.addEventListener('click', () => {
      mode = mode === 'password' ? 'token' : 'password';
      showMode();
      setError('');
      (mode === 'password' ? email : token).focus();
    });

    function setError(s) {
      msg.textContent = s;
      msg.hidden = !s;
    }

    function backoff(seconds) {
      let left = seconds;
      submit.disabled = true;
      const tick = () => {
        if (left <= 0) {
          clearInterval(timer);
          timer = null;
          submit.disabled = false;
          setError('');
          return;
        }
        setError(t('core.login.wait', { s: left }));
        left -= 1;
      };
      clearInterval(timer);
      tick();
      timer = setInterval(tick, 1000);
    }

    function failure(err, kind) {
      if (err.status === 401) setError(kind === 'token' ? t('core.login.token_invalid') : t('core.login.wrong'));
      else if (err.status === 429) backoff(err.retryAfter || 5);
      else if (err.status === 0) setError(t('core.error.network'));
      else setError(err.message || t('core.error.unexpected'));
    }

    async function onSubmit(e) {
      e.preventDefault();
      if (submit.disabled) return;
      setError('');
      if (mode === 'password' && (!email.value.trim() || !password.value)) {
        setError(t('core.login.required'));
        (email.value.trim() ? password : email).focus();
        return;
      }
      if (mode === 'token' && !token.value.trim()) {
        setError(t('core.login.required'));
        token.focus();
        return;
      }
      submit.disabled = true;
      submit.setAttribute('aria-busy', 'true');
      let tok = '';
      try {
        if (mode === 'password') {
          const r = await api.post('/api/v1/auth/login', { username: email.value.trim(), password: password.value }, { token: '', noRedirect: true });
          tok = r && r.token;
          if (!tok) throw new Error(t('core.error.unexpected'));
        } else tok = token.value.trim();
        const me = await api.get('/api/v1/auth/me', null, { token: tok, noRedirect: true });
        setToken(tok, stay.checked, mode);
        password.value = '';
        token.value = '';
        await ctx.signedIn(me);
        ctx.navigate(next || (me.role === 'regional_observer' ? '#/region' : '#/overview'));
      } catch (err) {
        failure(err, mode);
        if (err.status !== 429) submit.disabled = false;
        (mode === 'password' ? password : token).select();
      } finally {
        submit.removeAttribute('aria-busy');
      }
    }

    const form = h('form.login-form', { id: 'login-form', novalidate: true, onSubmit },
      pwFields, tokFields,
      h('div.check', null, stay, h('label', { for: 'login-stay' }, t('core.login.stay'))),
      msg, submit, h('div.login-alt', null, toggle));
    root.append(h('section.login', { 'aria-labelledby': 'login-title' },
      h('div.login-card', null,
        h('div.login-brand', null, h('img', { src: '/ui/favicon.svg', alt: '', width: 40, height: 40 }),
          h('span', null, 'Loom')),
        h('h1', { id: 'login-title' }, t('core.login.heading')),
        h('p.muted', null, t('core.login.subtitle')),
        params.expired ? h('p.form-note', { role: 'status' }, t('core.login.expired')) : null,
        form),
      h('p.login-foot.muted', null, icon('admin', 14), t('core.login.foot'))));
    showMode();
    ready(root);
    (mode === 'password' ? email : token).focus();
    return () => clearInterval(timer);
  },
};
