// SPDX-License-Identifier: Apache-2.0
// Placeholder of the region page (created by the shell engineer so the console boots; the
// page's owner replaces this whole file). It renders a "not yet available" note.

import { h } from '../core/dom.js';
import { ready } from '../core/ui.js';

export default {
  route: '/region',
  nav: 'region',
  title: 'region.title',
  roles: ['regional_observer', 'platform_admin'],
  async render(root, params, ctx) {
    root.append(h('div.state.state-empty', null, h('p.state-title', null, ctx.t('core.placeholder'))));
    ready(root);
  },
};
