// SPDX-License-Identifier: Apache-2.0
// Device page, "Attributes" tab: the three scopes (client: reported by the device, read-only;
// server: kept by the platform; shared: set here, read by the device). Users allowed to
// (attributes.write) add, edit and delete server and shared attributes. A value typed as
// JSON (42, true, {"a":1}) is sent as that JSON, anything else as a string.
import { h, clear } from '../../core/dom.js';
import * as ui from '../../core/ui.js';
import { can, nameCmp } from './common.js';

const SCOPES = ['client', 'server', 'shared'];

/** parseValue(s): the JSON value s spells, else s itself as a string. */
export function parseValue(s) {
  const x = String(s).trim();
  if (x === '') return '';
  try {
    return JSON.parse(x);
  } catch (e) {
    return String(s);
  }
}

/** showValue(v): a value as one line of text (strings as they are, the rest as JSON). */
export function showValue(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function renderAttributes(panel, dctx) {
  const { api, t, dev, pageRoot } = dctx;
  const writable = can(dctx.me, 'attributes.write');
  let disposed = false;
  const body = h('div.attributes', { dataset: { testid: 'attributes' } });
  panel.append(body);
  const base = `/api/v1/devices/${encodeURIComponent(dev.id)}/attributes`;

  function editor(scope, onSaved) {
    const key = h('input', { type: 'text', required: true, autocomplete: 'off', maxlength: 255 });
    const value = h('input', { type: 'text', autocomplete: 'off' });
    const keyField = ui.field({ label: t('devices.attr.key'), input: key, required: true });
    const valueField = ui.field({ label: t('devices.attr.value'), input: value, hint: t('devices.attr.valueHint') });
    const save = h('button.btn.primary', { type: 'submit' }, t('devices.attr.save'));
    const form = h('form.attr-form', { dataset: { testid: `attr-form-${scope}` } }, keyField, valueField, save);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const k = key.value.trim();
      if (!k) {
        keyField.setError(t('devices.attr.keyRequired'));
        key.focus();
        return;
      }
      keyField.setError(null);
      save.disabled = true;
      try {
        await api.post(`${base}/${scope}`, { [k]: parseValue(value.value) });
        ui.toast(t('devices.attr.saved', { key: k }), 'success');
        key.value = '';
        value.value = '';
        onSaved();
      } catch (err) {
        const m = ui.errorMessage(err);
        valueField.setError(`${m.title}${m.detail ? ': ' + m.detail : ''}`);
      } finally {
        save.disabled = false;
      }
    });
    form.fill = (k, v) => {
      key.value = k;
      value.value = showValue(v);
      value.focus();
    };
    return form;
  }

  async function remove(scope, key) {
    if (!(await ui.confirmDialog('devices.attr.confirmDelete', { vars: { key }, danger: true }))) return;
    try {
      await api.del(`${base}/${scope}`, { keys: key });
      ui.toast(t('devices.attr.deleted', { key }), 'success');
      load();
    } catch (err) {
      const m = ui.errorMessage(err);
      ui.toast(`${m.title}${m.detail ? ': ' + m.detail : ''}`, 'error');
    }
  }

  function section(scope, rows) {
    const canEdit = writable && scope !== 'client';
    const form = canEdit ? editor(scope, load) : null;
    const columns = [
      { key: 'key', label: t('devices.attr.key'), sort: true },
      { key: 'value', label: t('devices.attr.value'), render: (r) => h('span.ellipsis.mono', { title: showValue(r.value) }, showValue(r.value)) },
      { key: 'updated_ms', label: t('devices.attr.updated'), sort: true, render: (r) => ui.relTime(r.updated_ms) },
    ];
    if (canEdit) {
      columns.push({ key: 'actions', label: t('devices.attr.actions'), render: (r) => h('span.row-actions', null,
        h('button.btn.small', { type: 'button', onClick: () => form.fill(r.key, r.value),
          'aria-label': t('devices.attr.editKey', { key: r.key }) }, t('devices.attr.edit')),
        h('button.btn.small.danger', { type: 'button', onClick: () => remove(scope, r.key),
          'aria-label': t('devices.attr.deleteKey', { key: r.key }) }, t('devices.attr.delete'))) });
    }
    return h('section.attr-scope', { dataset: { scope } },
      h('h2', null, t(`devices.attr.scope.${scope}`)),
      h('p.muted', null, t(`devices.attr.scopeHint.${scope}`)),
      ui.table({ columns, rows, empty: `devices.attr.none`, caption: t(`devices.attr.scope.${scope}`) }),
      form);
  }

  async function load() {
    ui.loading(body);
    let attrs;
    try {
      attrs = await api.get(base);
    } catch (err) {
      if (disposed) return;
      ui.errorState(body, err, load);
      ui.ready(body);
      ui.ready(pageRoot);
      return;
    }
    if (disposed) return;
    clear(body);
    body.removeAttribute('aria-busy');
    const by = { client: [], server: [], shared: [] };
    for (const a of Array.isArray(attrs) ? attrs : []) if (by[a.scope]) by[a.scope].push(a);
    for (const s of SCOPES) {
      by[s].sort((a, b) => nameCmp(a.key, b.key));
      body.append(section(s, by[s]));
    }
    ui.ready(body);
    ui.ready(pageRoot);
  }

  load();
  return () => {
    disposed = true;
  };
}
