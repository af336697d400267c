// SPDX-License-Identifier: Apache-2.0
// Small DOM helpers for the Loom console. h() builds elements from plain values:
// strings and numbers always become text nodes, so server data can never be parsed as
// HTML. Every page builds its DOM with h(); nothing in the console uses innerHTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class' || k === 'className') {
      const list = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
      if (list) el.setAttribute('class', list);
    } else if (k === 'style' && typeof v === 'object') {
      for (const [p, pv] of Object.entries(v)) {
        if (pv === null || pv === undefined) continue;
        if (p.startsWith('--')) el.style.setProperty(p, String(pv));
        else el.style[p] = pv;
      }
    } else if (k === 'dataset') {
      for (const [p, pv] of Object.entries(v)) if (pv !== null && pv !== undefined) el.dataset[p] = pv;
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'ref' && typeof v === 'function') {
      v(el);
    } else if ((k === 'value' || k === 'checked' || k === 'selected' || k === 'indeterminate') && k in el) {
      el[k] = v;
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false || c === true) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/**
 * h(tag, attrs, ...children) -> HTMLElement.
 * tag: element name, optionally with classes: 'button.btn.primary'.
 * attrs: plain object, may be null. 'class' (string or array, falsy entries dropped),
 *   'style' (string or object; '--x' custom properties allowed), 'dataset' (object),
 *   'onClick' etc. (event listeners), 'ref' (called with the element), 'value'/'checked'
 *   (set as properties), true (empty attribute), false/null/undefined (omitted), others
 *   as attribute strings.
 * children: strings/numbers (text nodes), Nodes, arrays (flattened); null, undefined and
 *   booleans are skipped, so `cond && h(...)` works.
 */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  if (attrs) {
    if (attrs.class && classes.length) {
      const extra = Array.isArray(attrs.class) ? attrs.class.filter(Boolean).join(' ') : attrs.class;
      attrs = { ...attrs, class: `${classes.join(' ')} ${extra}`.trim() };
    }
    setAttrs(el, attrs);
  }
  append(el, children);
  // a <select>'s value can only be chosen once its options exist
  if (attrs && name === 'select' && attrs.value !== undefined && attrs.value !== null) el.value = attrs.value;
  return el;
}

/** svg(tag, attrs, ...children): like h() in the SVG namespace (icons, small graphics). */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** clear(el): remove every child of el; returns el. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** mount(el, ...children): clear(el) then append children (same rules as h()); returns el. */
export function mount(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** text(el, s): replace el's content by the text s (never parsed as HTML); returns el. */
export function text(el, s) {
  el.textContent = s === null || s === undefined ? '' : String(s);
  return el;
}

/** uid(prefix): a document-unique id for label/aria wiring. */
let seq = 0;
export function uid(prefix = 'id') {
  seq += 1;
  return `${prefix}-${seq}`;
}

/**
 * ellipsis(tag, s, attrs): an element showing s on one line, cut with an ellipsis when too
 * long, the full text in its title tooltip. For names in tables, headers and cards.
 */
export function ellipsis(tag, s, attrs) {
  const str = s === null || s === undefined ? '' : String(s);
  return h(tag, { ...(attrs || {}), class: ['ellipsis', attrs && attrs.class], title: str }, str);
}

/** icon(name): a small inline SVG icon (24x24 viewBox, stroke currentColor), aria-hidden. */
const ICONS = {
  overview: 'M3 13h8V3H3zM13 21h8V11h-8zM3 21h8v-6H3zM13 3v6h8V3z',
  devices: 'M4 4h16v12H4zM8 20h8M12 16v4',
  explorer: 'M3 3v18h18M7 15l4-4 3 3 5-6',
  admin: 'M12 2l8 4v6c0 5-3.5 9-8 10-4.5-1-8-5-8-10V6z',
  system: 'M12 8a4 4 0 100 8 4 4 0 000-8zM4 12h2M18 12h2M12 4v2M12 18v2M6.3 6.3l1.4 1.4M16.3 16.3l1.4 1.4M6.3 17.7l1.4-1.4M16.3 7.7l1.4-1.4',
  region: 'M12 21s-7-6.2-7-11a7 7 0 0114 0c0 4.8-7 11-7 11zM12 12.5a2.5 2.5 0 100-5 2.5 2.5 0 000 5z',
  menu: 'M4 6h16M4 12h16M4 18h16',
  user: 'M12 12a4 4 0 100-8 4 4 0 000 8zM4 21c0-4 3.6-6 8-6s8 2 8 6',
  close: 'M6 6l12 12M18 6L6 18',
  copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
  check: 'M5 12l5 5L20 7',
  alert: 'M12 3l10 18H2zM12 10v5M12 18v.5',
  sort: 'M8 10l4-4 4 4M8 14l4 4 4-4',
  up: 'M8 14l4-4 4 4',
  down: 'M8 10l4 4 4-4',
  refresh: 'M20 12a8 8 0 11-2.3-5.7M20 4v5h-5',
};
export function icon(name, size = 18) {
  return svg('svg', { class: `icon icon-${name}`, width: size, height: size, viewBox: '0 0 24 24',
    fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round',
    'stroke-linejoin': 'round', 'aria-hidden': 'true', focusable: 'false' },
  svg('path', { d: ICONS[name] || ICONS.alert }));
}
