// SPDX-License-Identifier: Apache-2.0
// Device page, "Commands" tab: send an RPC (method, JSON params, one-way or two-way, timeout)
// when the role allows it (rpc.send: not viewers), and the device's recent commands with
// their status and response, refreshed live from live.js `rpc` events (and polled while one
// is pending: expiry has no event).
import { h, clear } from '../../core/dom.js';
import * as ui from '../../core/ui.js';
import { can } from './common.js';
import { showValue } from './attributes.js';

const LIST_SIZE = 20;
const PENDING = new Set(['queued', 'sent', 'delivered']);
const POLL_MS = 5000;

export function renderCommands(panel, dctx) {
  const { api, t, dev, live, pageRoot } = dctx;
  let disposed = false;
  let pollTimer = 0;
  let reloadTimer = 0;
  let seq = 0;
  const body = h('div.commands', { dataset: { testid: 'commands' } });
  const listArea = h('div.cmd-list');
  panel.append(body);

  function sendForm() {
    const method = h('input', { type: 'text', required: true, autocomplete: 'off', maxlength: 255, dataset: { testid: 'cmd-method' } });
    const params = h('textarea.mono', { rows: 3, spellcheck: 'false', dataset: { testid: 'cmd-params' } }, '{}');
    const oneway = h('input', { type: 'checkbox' });
    const timeout = h('input', { type: 'number', min: 1, max: 86400, step: 1, value: '30' });
    const fMethod = ui.field({ label: t('devices.cmd.method'), input: method, required: true });
    const fParams = ui.field({ label: t('devices.cmd.params'), input: params, hint: t('devices.cmd.paramsHint') });
    const fTimeout = ui.field({ label: t('devices.cmd.timeout'), input: timeout });
    const send = h('button.btn.primary', { type: 'submit' }, t('devices.cmd.send'));
    const form = h('form.cmd-form', { 'aria-label': t('devices.cmd.sendTitle') },
      h('h2', null, t('devices.cmd.sendTitle')),
      h('div.cmd-form-row', null, fMethod, fTimeout,
        h('label.check', null, oneway, h('span', null, t('devices.cmd.oneway')))),
      fParams, send);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const m = method.value.trim();
      fMethod.setError(m ? null : t('devices.cmd.methodRequired'));
      let p;
      try {
        p = params.value.trim() ? JSON.parse(params.value) : {};
        fParams.setError(null);
      } catch (err) {
        fParams.setError(t('devices.cmd.paramsInvalid'));
        params.focus();
        return;
      }
      if (!m) {
        method.focus();
        return;
      }
      const secs = Number(timeout.value) || 30;
      send.disabled = true;
      try {
        await api.post(`/api/v1/devices/${encodeURIComponent(dev.id)}/rpc`,
          { method: m, params: p, oneway: oneway.checked, timeout_ms: Math.round(secs * 1000) });
        ui.toast(t('devices.cmd.sent', { method: m }), 'success');
        loadList();
      } catch (err) {
        const em = ui.errorMessage(err);
        fParams.setError(`${em.title}${em.detail ? ': ' + em.detail : ''}`);
      } finally {
        send.disabled = false;
      }
    });
    return form;
  }

  const columns = [
    { key: 'method', label: t('devices.cmd.method') },
    { key: 'status', label: t('devices.cmd.status'), render: (r) => ui.badge(r.status) },
    { key: 'params', label: t('devices.cmd.params'), render: (r) => h('span.ellipsis.mono', { title: showValue(r.params) }, showValue(r.params)) },
    { key: 'response', label: t('devices.cmd.response'),
      render: (r) => (r.response == null ? h('span.muted', null, '—')
        : h('span.ellipsis.mono', { title: showValue(r.response) }, showValue(r.response))) },
    { key: 'oneway', label: t('devices.cmd.kind'), render: (r) => t(r.oneway ? 'devices.cmd.onewayShort' : 'devices.cmd.twoway') },
    { key: 'created_ms', label: t('devices.cmd.created'), render: (r) => ui.relTime(r.created_ms) },
  ];

  async function loadList(first) {
    const mine = ++seq;
    clearTimeout(pollTimer);
    if (first) ui.loading(listArea);
    let r;
    try {
      r = await api.get(`/api/v1/devices/${encodeURIComponent(dev.id)}/rpc`,
        { sortProperty: 'created_ms', sortOrder: 'DESC', pageSize: LIST_SIZE });
    } catch (err) {
      if (disposed || mine !== seq) return;
      ui.errorState(listArea, err, () => loadList(true));
      ui.ready(body);
      ui.ready(pageRoot);
      return;
    }
    if (disposed || mine !== seq) return;
    const rows = r.data || [];
    clear(listArea);
    listArea.removeAttribute('aria-busy');
    listArea.append(h('h2', null, t('devices.cmd.listTitle')),
      ui.table({ columns, rows, empty: 'devices.cmd.none', caption: t('devices.cmd.listTitle') }));
    if (rows.some((x) => PENDING.has(x.status))) pollTimer = setTimeout(() => loadList(false), POLL_MS);
    ui.ready(body);
    ui.ready(pageRoot);
  }

  body.append(can(dctx.me, 'rpc.send') ? sendForm() : h('p.muted', null, t('devices.cmd.readOnly')), listArea);
  const unsub = live.subscribe({ type: 'rpc', device_id: dev.id }, () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => loadList(false), 200);
  });
  loadList(true);
  return () => {
    disposed = true;
    unsub();
    clearTimeout(pollTimer);
    clearTimeout(reloadTimer);
  };
}
