// SPDX-License-Identifier: Apache-2.0
// Administration pages: create a user and change its role, create a token (its secret is
// shown once) and revoke it, edit a profile key's normal range, the audit log says the
// chain is verified (and says where it is broken after DATA/audit.log was tampered with); and a
// viewer cannot reach #/admin/users (issue 5 requires this test).

import test from 'node:test';
import { readFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { suite, env, rest, RestError, login, goto, makeUser, makeTenant, unique, shot } from './harness.mjs';

const s = suite();

/** The input labelled text in scope (a required field's label ends with " *"). */
function field(scope, text) {
  return scope.getByLabel(new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( \\*)?$`));
}

async function fresh() {
  return s.newPage({ locale: 'en-US' });
}

test('a tenant admin creates a user, then changes its role', async () => {
  const ta = await makeUser({ role: 'tenant_admin' });
  const p = await fresh();
  await login(p, { ...ta, next: '#/admin/users' });
  await p.getByTestId('user-create').click();
  const dlg = p.getByRole('dialog');
  const email = `${unique('op')}@example.com`.toLowerCase();
  await field(dlg, 'E-mail').fill(email);
  await field(dlg, 'Name').fill('Wang Fang 王芳');
  await field(dlg, 'Role').selectOption('operator');
  // the server's password policy answers next to the field
  await field(dlg, 'Initial password').fill('short');
  await field(dlg, 'Initial password').press('Enter');
  await dlg.getByText(/at least 8 characters/).first().waitFor();
  await field(dlg, 'Initial password').fill('Correct-horse-9');
  await dlg.getByRole('button', { name: 'Create user' }).click();
  await dlg.waitFor({ state: 'detached' });
  const row = p.getByRole('row').filter({ hasText: email });
  await row.waitFor();
  assert.equal(await row.getByTestId('user-role').textContent(), 'Operator');
  await shot(p, 'admin');

  await row.getByRole('button', { name: `Change role: ${email}` }).click();
  const d2 = p.getByRole('dialog');
  await field(d2, 'Role').selectOption('engineer');
  await d2.getByRole('button', { name: 'Save' }).click();
  await d2.waitFor({ state: 'detached' });
  await p.getByRole('row').filter({ hasText: email }).getByTestId('user-role').filter({ hasText: 'Engineer' }).waitFor();
  const users = await rest('/api/v1/users', { query: { email } });
  assert.equal(users.data[0].role, 'engineer');
});

test('a user creates an API token, sees its secret once, and revokes it', async () => {
  const eng = await makeUser({ role: 'engineer' });
  const p = await fresh();
  await login(p, { ...eng, next: '#/admin/tokens' });
  const name = unique('grafana');
  await p.getByTestId('token-create').click();
  const dlg = p.getByRole('dialog');
  await field(dlg, 'Name').fill(name);
  await field(dlg, 'Scope').selectOption('read');
  await dlg.getByRole('button', { name: 'Create token' }).click();
  const secretBox = p.getByTestId('token-secret');
  await secretBox.waitFor();
  const secret = await secretBox.inputValue();
  assert.match(secret, /^lm_a_/);
  assert.match(await p.getByTestId('token-secret-warning').textContent(), /shown only now/);
  const me = await rest('/api/v1/auth/me', { token: secret });
  assert.equal(me.subject_id, eng.user.id);
  assert.equal(me.scope, 'read');
  await p.getByRole('button', { name: 'I have stored it' }).click();
  const row = p.getByRole('row').filter({ hasText: name });
  await row.waitFor();
  // shown once: nowhere on the page any more
  assert.equal(await p.getByTestId('token-secret').count(), 0);
  assert.ok(!(await p.content()).includes(secret));

  await row.getByRole('button', { name: `Revoke: ${name}` }).click();
  await p.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await p.getByRole('row').filter({ hasText: name }).getByText('Revoked').waitFor();
  // the server forgets cached principals within a second
  let status = 200;
  for (let i = 0; i < 30 && status !== 401; i++) {
    status = (await rest('/api/v1/auth/me', { token: secret, raw: true })).status;
    if (status !== 401) await p.waitForTimeout(100);
  }
  assert.equal(status, 401);
});

test('an engineer edits the normal range of a profile key', async () => {
  const tenant = await makeTenant();
  const eng = await makeUser({ role: 'engineer', tenant });
  const prof = await rest('/api/v1/device-profiles', { body: { name: unique('compressor'), tenant_id: tenant.id } });
  const key = await rest(`/api/v1/device-profiles/${prof.id}/keys`, { body: { key: 'pressure_bar', type: 'float', unit: 'bar', min: 0, max: 10, level: 2 } });
  const p = await fresh();
  await login(p, { ...eng, next: '#/admin/profiles' });
  await p.getByRole('link', { name: prof.name }).click();
  await p.getByRole('button', { name: 'Edit: pressure_bar' }).waitFor();
  await p.getByRole('button', { name: 'Edit: pressure_bar' }).click();
  const dlg = p.getByRole('dialog');
  await field(dlg, 'Normal min').fill('1.5');
  await field(dlg, 'Normal max').fill('abc');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.getByText(/must be a number/).waitFor(); // checked before sending
  await field(dlg, 'Normal max').fill('12.5');
  await field(dlg, 'Data level').selectOption('3');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.waitFor({ state: 'detached' });
  const row = p.getByRole('row').filter({ hasText: 'pressure_bar' });
  await row.getByTestId('key-max').filter({ hasText: '12.5' }).waitFor();
  assert.equal(await row.getByTestId('key-min').textContent(), '1.5');
  const k = await rest(`/api/v1/device-profiles/${prof.id}/keys/${key.id}`);
  assert.deepEqual([k.min, k.max, k.level, k.unit], [1.5, 12.5, 3, 'bar']);
  await shot(p, 'admin-profile');
});

test('a platform admin creates, edits and deletes a tenant', async () => {
  const pa = await makeUser({ role: 'platform_admin' });
  const p = await fresh();
  await login(p, { ...pa, next: '#/admin/tenants' });
  const name = unique('无锡机械厂');
  await p.getByTestId('tenant-create').click();
  const dlg = p.getByRole('dialog');
  await field(dlg, 'Name').fill(name);
  await field(dlg, 'Industry').fill('machinery');
  await field(dlg, 'Region').fill('CN-JS');
  await field(dlg, 'Database').fill('bad name!'); // the server's validation, next to the field
  await dlg.getByRole('button', { name: 'Create tenant' }).click();
  await dlg.getByText(/A-Z a-z 0-9/).waitFor();
  await field(dlg, 'Database').fill('');
  await dlg.getByRole('button', { name: 'Create tenant' }).click();
  await dlg.waitFor({ state: 'detached' });
  const row = p.getByRole('row').filter({ hasText: name });
  await row.getByText('CN-JS').waitFor();
  await row.getByRole('button', { name: `Edit: ${name}` }).click();
  await field(p.getByRole('dialog'), 'Industry').fill('electronics');
  await p.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
  await p.getByRole('row').filter({ hasText: name }).getByText('electronics').waitFor();
  await p.getByRole('row').filter({ hasText: name }).getByRole('button', { name: `Delete: ${name}` }).click();
  await p.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await p.getByRole('row').filter({ hasText: name }).waitFor({ state: 'detached' });
  const left = await rest('/api/v1/tenants', { query: { name } });
  assert.equal(left.data.length, 0);
});

test('an engineer creates a profile and adds a key; a viewer has no profiles tab', async () => {
  const tenant = await makeTenant();
  const eng = await makeUser({ role: 'engineer', tenant });
  const p = await fresh();
  await login(p, { ...eng, next: '#/admin/profiles' });
  const name = unique('空压机');
  await p.getByTestId('profile-create').click();
  const dlg = p.getByRole('dialog');
  await field(dlg, 'Name').fill(name);
  await field(dlg, 'Description').fill('screw compressor');
  await dlg.getByRole('button', { name: 'Create profile' }).click();
  await p.getByRole('heading', { name }).waitFor(); // the new profile's own page
  await p.getByTestId('key-create').click();
  const kd = p.getByRole('dialog');
  await field(kd, 'Key').fill('temp_c');
  await field(kd, 'Unit').fill('°C');
  await field(kd, 'Normal min').fill('-20');
  await field(kd, 'Normal max').fill('90');
  await kd.getByRole('button', { name: 'Add key' }).click();
  await kd.waitFor({ state: 'detached' });
  await p.getByRole('row').filter({ hasText: 'temp_c' }).getByText('°C').waitFor();

  const v = await makeUser({ role: 'viewer', tenant });
  const q = await fresh();
  await login(q, v);
  await goto(q, '#/admin/profiles');
  await q.getByTestId('admin-forbidden').waitFor();
  assert.equal(await q.getByTestId('admin-tab-profiles').count(), 0);
  assert.equal(await q.getByRole('link', { name }).count(), 0);
});

test('the audit log shows the chain verified', async () => {
  const ta = await makeUser({ role: 'tenant_admin' });
  await rest('/api/v1/assets', { body: { name: 'audited asset', type: 'line', tenant_id: ta.tenant.id } });
  const p = await fresh();
  await login(p, { ...ta, next: '#/admin/audit' });
  const status = p.locator('[data-testid=audit-status][data-status=verified]');
  await status.waitFor();
  assert.match(await status.textContent(), /verified/);
  await p.getByRole('row').filter({ hasText: 'asset.create' }).first().waitFor();
  await shot(p, 'admin-audit');
  // filtered by the server: an action prefix
  await field(p, 'Action').fill('user.');
  await p.getByTestId('audit-apply').click();
  await p.waitForFunction(() => {
    const a = [...document.querySelectorAll('main table tbody tr td code')].map((c) => c.textContent);
    return a.length > 0 && a.every((x) => x.startsWith('user.'));
  });
  assert.ok(await p.getByRole('row').filter({ hasText: 'user.create' }).count() > 0);
});

test('a viewer cannot reach #/admin/users', async () => {
  const v = await makeUser({ role: 'viewer' });
  const p = await fresh();
  await login(p, v);
  await goto(p, '#/admin/users');
  await p.getByTestId('admin-forbidden').waitFor();
  assert.equal(await p.getByTestId('user-create').count(), 0);
  assert.equal(await p.getByRole('table').count(), 0);
  // the tab bar offers only what a viewer may use
  assert.equal(await p.getByTestId('admin-tab-users').count(), 0);
  assert.equal(await p.getByTestId('admin-tab-tokens').count(), 1);
  // and the server agrees
  await assert.rejects(rest('/api/v1/users', { token: v.token }), (e) => e instanceof RestError && e.status === 403);
  void env;
});

test('the administration pages speak Chinese in a Chinese browser', async () => {
  const ta = await makeUser({ role: 'tenant_admin' });
  const p = await s.newPage({ locale: 'zh-CN' });
  await login(p, { ...ta, next: '#/admin/users' });
  await p.getByRole('heading', { name: '系统管理' }).waitFor();
  await p.getByTestId('admin-tab-users').filter({ hasText: '用户与角色' }).waitFor();
  await p.getByRole('row').filter({ hasText: ta.email }).getByText('租户管理员').waitFor();
  await shot(p, 'admin', 'zh-CN');
  await goto(p, '#/admin/audit');
  await p.locator('[data-testid=audit-status][data-status=verified]').filter({ hasText: '审计链校验通过' }).waitFor();
  await shot(p, 'admin-audit', 'zh-CN');
});

/** Flip one byte inside the payload of record seq of DATA/audit.log (sec/audit.h layout:
 * 32-byte header, records of 56 + L + 32 bytes: magic, L u32 LE, seq u64 LE, ...). */
function tamperAudit(dataDir, seq) {
  const file = join(dataDir, 'audit.log');
  const buf = readFileSync(file);
  let off = 32;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off + 4);
    if (Number(buf.readBigUInt64LE(off + 8)) === seq) {
      const pos = off + 56 + Math.floor(len / 2);
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.from([buf[pos] ^ 1]), 0, 1, pos);
      closeSync(fd);
      return;
    }
    off += 88 + len;
  }
  throw new Error(`audit record ${seq} not found`);
}

// last: it breaks this daemon's audit chain on purpose
test('the audit log says where the chain is broken, and still lists the records before it',
  { skip: !env.dataDir && 'needs LOOM_DATA_DIR (set by test_console.py)' }, async () => {
    const pa = await makeUser({ role: 'platform_admin' });
    const status = await rest('/api/v1/audit/verify');
    assert.equal(status.status, 'verified');
    const bad = status.last_seq; // the login of pa
    tamperAudit(env.dataDir, bad);
    const p = await fresh();
    // straight to the audit page (the overview reads the audit log too: not this test's subject)
    await login(p, { token: pa.token, via: 'storage', next: '#/admin/audit' });
    const st = p.locator('[data-testid=audit-status][data-status=broken]');
    await st.waitFor();
    assert.match(await st.textContent(), new RegExp(`broken at record ${bad.toLocaleString('en')}`));
    // the newest page holds the broken record: it stops before it and says so
    await p.getByTestId('audit-page-broken').waitFor();
    const seqs = await p.locator('table tbody tr td:first-child').allTextContents();
    assert.ok(seqs.length > 0);
    assert.equal(seqs[seqs.length - 1].replace(/,/g, ''), String(bad - 1));
    await shot(p, 'admin-audit-broken');
  });
