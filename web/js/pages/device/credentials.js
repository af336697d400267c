// SPDX-License-Identifier: Apache-2.0
// Device page, "Credentials" tab: the access token (Loom keeps only its hash, so it can only
// be re-issued: rotate with confirmation, the new token shown once with a copy button), MQTT
// basic credentials, and ready-to-paste connection snippets (curl, mosquitto_pub, Python with
// requests and with paho-mqtt) filled with this server's address, its MQTT port (GET
// /api/v1/console/info; 1883 until known) and the token once issued here. Users who may not
// manage credentials (device.credentials) see the snippets only.
import { h, clear } from '../../core/dom.js';
import * as ui from '../../core/ui.js';
import { can } from './common.js';

const TOKEN_PLACEHOLDER = 'YOUR_DEVICE_TOKEN';

// A token just issued elsewhere in this page load (the "add device" dialog), shown once by
// the credentials tab of that device. Memory only: never stored.
let handed = null;
/** handOverToken(deviceId, token): let the credentials tab of deviceId show token once. */
export function handOverToken(deviceId, token) {
  handed = { deviceId, token };
}

// A sample telemetry body from the profile's numeric keys (mid-range values), else a default.
export function sampleBody(keyMeta) {
  const out = {};
  for (const [k, m] of keyMeta) {
    if (m.type !== 'float' && m.type !== 'int') continue;
    let v = 21.5;
    if (m.min != null && m.max != null) v = (m.min + m.max) / 2;
    else if (m.min != null) v = m.min + 1;
    else if (m.max != null) v = m.max - 1;
    out[k] = m.type === 'int' ? Math.round(v) : Math.round(v * 100) / 100;
    if (Object.keys(out).length === 2) break;
  }
  return Object.keys(out).length ? out : { temperature: 21.5 };
}

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`; // POSIX shell single quotes
const pyq = (s) => JSON.stringify(String(s)); // a Python string literal (JSON's is valid Python)

/** snippets({origin, host, mqttPort, token, body, mqttUser}) -> [{id, code}] for the four
 * clients, plus mosquitto_pub with the MQTT user name and password when mqttUser is set. */
export function snippets({ origin, host, mqttPort, token, body, mqttUser }) {
  const tok = token || TOKEN_PLACEHOLDER;
  const json = JSON.stringify(body);
  const pyBody = json.replace(/\btrue\b/g, 'True').replace(/\bfalse\b/g, 'False');
  const basic = mqttUser ? [{ id: 'mqttBasic', code:
`MQTT_PASSWORD='YOUR_MQTT_PASSWORD'
mosquitto_pub -h ${shq(host)} -p ${mqttPort} -u ${shq(mqttUser)} -P "$MQTT_PASSWORD" -q 1 \\
  -t v1/devices/me/telemetry -m ${shq(json)}` }] : [];
  return [
    { id: 'curl', code:
`DEVICE_TOKEN=${shq(tok)}
curl -fsS -X POST "${origin}/api/v1/$DEVICE_TOKEN/telemetry" \\
  -H 'Content-Type: application/json' -d ${shq(json)}` },
    { id: 'mqtt', code:
`DEVICE_TOKEN=${shq(tok)}
mosquitto_pub -h ${shq(host)} -p ${mqttPort} -u "$DEVICE_TOKEN" -q 1 \\
  -t v1/devices/me/telemetry -m ${shq(json)}` },
    { id: 'python', code:
`import requests

TOKEN = ${pyq(tok)}
r = requests.post(${pyq(origin)} + "/api/v1/" + TOKEN + "/telemetry",
                  json=${pyBody}, timeout=10)
r.raise_for_status()` },
    { id: 'paho', code:
`import json
import paho.mqtt.client as mqtt

TOKEN = ${pyq(tok)}
try:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)  # paho-mqtt 2.x
except AttributeError:
    client = mqtt.Client()  # paho-mqtt 1.x
client.username_pw_set(TOKEN)
client.connect(${pyq(host)}, ${mqttPort})
client.loop_start()
client.publish("v1/devices/me/telemetry", json.dumps(${pyBody}), qos=1).wait_for_publish()
client.loop_stop()
client.disconnect()` },
    ...basic,
  ];
}

export function renderCredentials(panel, dctx) {
  const { api, t, dev, keyMeta, pageRoot } = dctx;
  const manage = can(dctx.me, 'device.credentials');
  let disposed = false;
  let token = null; // issued in this view
  if (handed && handed.deviceId === dev.id) {
    token = handed.token;
    handed = null;
  }
  let mqttPort = 1883;
  let mqttNote = '';
  const body = h('div.credentials', { dataset: { testid: 'credentials' } });
  const snipArea = h('div.snippets');
  panel.append(body);

  function drawSnippets() {
    clear(snipArea);
    const list = snippets({ origin: location.origin, host: location.hostname, mqttPort, token,
      body: sampleBody(keyMeta), mqttUser: dev.mqtt_username });
    snipArea.append(h('h2', null, t('devices.cred.snippets')),
      h('p.muted', null, token ? t('devices.cred.snippetsFilled') : t('devices.cred.snippetsHint')));
    if (mqttNote) snipArea.append(h('p.muted', null, mqttNote));
    for (const s of list) {
      snipArea.append(h('section.snippet', { dataset: { snippet: s.id } },
        h('div.snippet-head', null, h('h3', null, t(`devices.cred.snippet.${s.id}`)),
          ui.copyButton(s.code, { label: t('devices.cred.copy') })),
        h('pre.code', { tabindex: '0' }, h('code', null, s.code))));
    }
  }

  function showToken(out, tok) {
    clear(out);
    out.append(h('p.notice', null, t('devices.cred.newToken')),
      h('div.secret', null, h('code.mono', { dataset: { testid: 'device-token' } }, tok),
        ui.copyButton(tok, { label: t('devices.cred.copy') })));
  }

  function tokenSection() {
    const out = h('div.token-out', { 'aria-live': 'polite' });
    const rotate = h('button.btn.danger', { type: 'button', dataset: { testid: 'rotate-token' } }, t('devices.cred.rotate'));
    rotate.addEventListener('click', async () => {
      if (!(await ui.confirmDialog('devices.cred.rotateConfirm', { vars: { name: dev.name }, danger: true, okKey: 'devices.cred.rotate' }))) return;
      rotate.disabled = true;
      try {
        const r = await api.post(`/api/v1/devices/${encodeURIComponent(dev.id)}/credentials`, {});
        token = r.accessToken;
        showToken(out, token);
        drawSnippets();
        ui.toast(t('devices.cred.rotated'), 'success');
      } catch (err) {
        const m = ui.errorMessage(err);
        ui.toast(`${m.title}${m.detail ? ': ' + m.detail : ''}`, 'error');
      } finally {
        rotate.disabled = false;
      }
    });
    if (token) showToken(out, token);
    return h('section.cred-token', null,
      h('h2', null, t('devices.cred.tokenTitle')),
      h('p', null, t('devices.cred.tokenHint')),
      rotate, out);
  }

  function mqttSection() {
    const user = h('input', { type: 'text', autocomplete: 'off', maxlength: 128, value: dev.mqtt_username || '' });
    const pass = h('input', { type: 'password', autocomplete: 'new-password', minlength: 4, maxlength: 256 });
    const fUser = ui.field({ label: t('devices.cred.mqttUser'), input: user });
    const fPass = ui.field({ label: t('devices.cred.mqttPass'), input: pass, hint: t('devices.cred.mqttPassHint') });
    const current = h('p.mqtt-current');
    const showCurrent = () => {
      clear(current);
      if (dev.mqtt_username) {
        current.append(h('span', null, t('devices.cred.mqttCurrent', { user: dev.mqtt_username })), ' ',
          ui.copyButton(dev.mqtt_username, { label: t('devices.cred.copy') }));
      } else current.append(t('devices.cred.mqttNone'));
    };
    showCurrent();
    const save = h('button.btn', { type: 'submit' }, t('devices.cred.mqttSave'));
    const form = h('form.mqtt-cred-form', null, fUser, fPass, save);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const u = user.value.trim();
      fUser.setError(u ? null : t('devices.cred.mqttUserRequired'));
      fPass.setError(pass.value.length >= 4 ? null : t('devices.cred.mqttPassShort'));
      if (!u || pass.value.length < 4) return;
      save.disabled = true;
      try {
        const d = await api.put(`/api/v1/devices/${encodeURIComponent(dev.id)}`, { mqtt_username: u, mqtt_password: pass.value });
        dev.mqtt_username = (d && d.mqtt_username) || u;
        pass.value = '';
        showCurrent();
        drawSnippets();
        ui.toast(t('devices.cred.mqttSaved'), 'success');
      } catch (err) {
        const m = ui.errorMessage(err);
        fPass.setError(`${m.title}${m.detail ? ': ' + m.detail : ''}`);
      } finally {
        save.disabled = false;
      }
    });
    return h('section.cred-mqtt', null, h('h2', null, t('devices.cred.mqttTitle')), current, form);
  }

  async function load() {
    ui.loading(body);
    const info = await api.get('/api/v1/console/info').catch(() => null);
    if (disposed) return;
    if (info && info.mqtt) {
      if (typeof info.mqtt.port === 'number') mqttPort = info.mqtt.port;
      else if (info.mqtt.port === null) mqttNote = t('devices.cred.mqttOff');
    }
    clear(body);
    body.removeAttribute('aria-busy');
    if (manage) body.append(tokenSection(), mqttSection());
    else {
      body.append(h('p.muted', null, t('devices.cred.noManage')));
      if (token) { // just created by this user: shown once even without credential rights
        const out = h('div.token-out');
        showToken(out, token);
        body.append(out);
      }
    }
    body.append(snipArea);
    drawSnippets();
    ui.ready(body);
    ui.ready(pageRoot);
  }

  load();
  return () => {
    disposed = true;
  };
}
