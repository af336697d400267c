// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the devices list and the device page: paging through a list API, name
// ordering, and what the signed-in role and token scope allow (the server decides anyway;
// the console only hides what would be refused).

const PAGE_MAX = 1000; // largest pageSize the list APIs accept
const FETCH_ALL_MAX = 100; // pages: 100,000 rows at most, then stop

/** fetchAll(api, path, params) -> every row of a paged list API ({data, hasNext}). */
export async function fetchAll(api, path, params = {}) {
  const rows = [];
  for (let page = 0; page < FETCH_ALL_MAX; page++) {
    const r = await api.get(path, { ...params, page, pageSize: PAGE_MAX });
    rows.push(...(r.data || []));
    if (!r.hasNext) break;
  }
  return rows;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
/** nameCmp(a, b): natural order of names ("CNC-2" before "CNC-10"). */
export function nameCmp(a, b) {
  return collator.compare(String(a ?? ''), String(b ?? ''));
}

const SCOPE_RANK = { read: 0, write: 1, admin: 2 };
const RULES = {
  'rpc.send': { roles: ['platform_admin', 'tenant_admin', 'engineer', 'operator'], scope: 'write' },
  'attributes.write': { roles: ['platform_admin', 'tenant_admin', 'engineer', 'operator'], scope: 'write' },
  'device.write': { roles: ['platform_admin', 'tenant_admin', 'engineer'], scope: 'write' },
  'asset.write': { roles: ['platform_admin', 'tenant_admin', 'engineer'], scope: 'write' },
  'device.credentials': { roles: ['platform_admin', 'tenant_admin', 'engineer'], scope: 'admin' },
};

/** can(me, perm): whether GET /api/v1/auth/me's role and scope allow perm (see RULES). */
export function can(me, perm) {
  const r = RULES[perm];
  if (!r || !me) return false;
  const scope = me.scope === undefined || me.scope === null ? 'admin' : me.scope;
  return r.roles.includes(me.role) && (SCOPE_RANK[scope] ?? -1) >= SCOPE_RANK[r.scope];
}
