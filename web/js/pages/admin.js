// SPDX-License-Identifier: Apache-2.0
// Administration (#/admin/...): tenants, users and roles, API tokens, device profiles and
// their keys, the audit log with its verification status. One tab per file under admin/;
// this file draws the tab bar (only the tabs the signed-in role may use; the server decides
// anyway) and hands the panel to the chosen tab. A tab the role may not use shows a clear
// "no access" panel instead of a broken page.

import { h } from '../core/dom.js';
import { t } from '../core/i18n.js';
import { pageHeader } from '../core/ui.js';
import { can, forbidden } from './admin/common.js';
import tenants from './admin/tenants.js';
import users from './admin/users.js';
import tokens from './admin/tokens.js';
import profiles from './admin/profiles.js';
import audit from './admin/audit.js';

// Operators and viewers see only their API tokens here (web contract); profiles.js still
// draws a read-only view should a read-only role be given the tab.
const PROFILE_ROLES = ['platform_admin', 'tenant_admin', 'engineer'];

/** The tabs in order: id (route /admin/<id>), the roles that may use it, its module. */
export const ADMIN_TABS = [
  { id: 'tenants', roles: ['platform_admin', 'tenant_admin'], mod: tenants },
  { id: 'users', roles: ['platform_admin', 'tenant_admin'], mod: users },
  { id: 'tokens', roles: null, mod: tokens },
  { id: 'profiles', roles: PROFILE_ROLES, mod: profiles },
  { id: 'audit', roles: ['platform_admin', 'tenant_admin'], mod: audit },
];

function currentTab() {
  const m = /^#\/admin(?:\/([^/?]+))?/.exec(location.hash || '');
  return m && m[1] ? m[1] : null;
}

export default {
  routes: ['/admin', '/admin/tenants', '/admin/users', '/admin/tokens', '/admin/profiles',
    '/admin/profiles/:id', '/admin/audit'],
  nav: 'admin',
  title: 'admin.title',
  roles: null,
  async render(root, params, ctx) {
    const me = ctx.me;
    const visible = ADMIN_TABS.filter((tb) => can(me, tb.roles));
    const id = currentTab() || (visible[0] && visible[0].id) || 'tokens';
    const tab = ADMIN_TABS.find((tb) => tb.id === id);
    const bar = h('nav.admin-tabs', { 'aria-label': t('admin.tabs.label') },
      h('ul', null, visible.map((tb) => h('li', null,
        h('a.admin-tab', { href: `#/admin/${tb.id}`, 'aria-current': tb.id === id ? 'page' : null,
          'data-testid': `admin-tab-${tb.id}` }, t(`admin.tab.${tb.id}`))))));
    const panel = h('section.admin-panel', { 'aria-label': tab ? t(`admin.tab.${tab.id}`) : t('admin.title') });
    root.append(pageHeader(t('admin.title')), bar, panel);
    if (!tab) {
      forbidden(panel, id);
      root.setAttribute('data-ready', '');
      return null;
    }
    if (!can(me, tab.roles)) {
      forbidden(panel, t(`admin.tab.${tab.id}`));
      root.setAttribute('data-ready', '');
      return null;
    }
    const cleanup = await tab.mod.render(panel, params, ctx, () => root.setAttribute('data-ready', ''));
    return typeof cleanup === 'function' ? cleanup : null;
  },
};
