// SPDX-License-Identifier: Apache-2.0
// Translations for the console. Texts live in web/i18n/<lang>/<area>.json (flat objects,
// keys prefixed by the area: "devices.latest.title"). All areas of the chosen language and
// of English (the fallback) are loaded at boot and on a switch. t(key, vars) looks a key up
// in the chosen language, then English, then shows the key itself (with a console warning).

import { setLocale, fmt } from './format.js';

/** The translation areas, one file per language each (owners: see the web contract). */
export const AREAS = ['core', 'overview', 'system', 'region', 'devices', 'explorer', 'admin'];
/** The UI languages. */
export const LANGS = ['zh-CN', 'en'];
const STORE_KEY = 'loom.lang';

let lang = 'en';
let dict = {}; // chosen language
let fallback = {}; // English
const warned = new Set();
const listeners = new Set();

async function loadArea(l, area) {
  try {
    const r = await fetch(`/ui/i18n/${l}/${area}.json`, { cache: 'no-cache' });
    if (!r.ok) return {};
    const obj = await r.json();
    return obj && typeof obj === 'object' ? obj : {};
  } catch (e) {
    console.warn(`i18n: cannot load ${l}/${area}.json`, e); // eslint-disable-line no-console
    return {};
  }
}

async function loadLang(l) {
  const parts = await Promise.all(AREAS.map((a) => loadArea(l, a)));
  return Object.assign({}, ...parts);
}

/** detectLang(): the stored choice, else the browser's languages (zh* -> zh-CN), else en. */
export function detectLang() {
  let stored = null;
  try {
    stored = localStorage.getItem(STORE_KEY);
  } catch (e) { /* storage disabled: follow the browser */ }
  if (LANGS.includes(stored)) return stored;
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const p of prefs) {
    const low = String(p).toLowerCase();
    if (low.startsWith('zh')) return 'zh-CN';
    if (low.startsWith('en')) return 'en';
  }
  return 'en';
}

/** getLang(): the current UI language ('zh-CN' or 'en'). */
export function getLang() {
  return lang;
}

/**
 * setLang(l, {save}): load the texts of l (and English), make l current, set <html lang>,
 * remember the choice in localStorage when save (default true) and notify onLangChange
 * listeners. Resolves when the texts are in place.
 */
export async function setLang(l, { save = true } = {}) {
  if (!LANGS.includes(l)) l = 'en';
  const haveEn = Object.keys(fallback).length > 0;
  const [d, f] = await Promise.all([l === 'en' ? null : loadLang(l), haveEn ? fallback : loadLang('en')]);
  fallback = f;
  dict = l === 'en' ? f : d;
  lang = l;
  setLocale(l);
  document.documentElement.setAttribute('lang', l);
  if (save) {
    try {
      localStorage.setItem(STORE_KEY, l);
    } catch (e) { /* not persisted: fine */ }
  }
  for (const fn of listeners) fn(l);
}

/** initI18n(): setLang(detectLang()) without storing the guess. */
export function initI18n() {
  return setLang(detectLang(), { save: false });
}

/** onLangChange(fn): call fn(lang) after each switch; returns an unsubscribe function. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * t(key, vars?): the text of key in the current language. "{name}" placeholders are
 * replaced by vars.name (as text). Missing in the language -> English; missing in both ->
 * the key itself, warned once on the console.
 */
export function t(key, vars) {
  let s = dict[key];
  if (s === undefined || s === '') s = fallback[key];
  if (s === undefined || s === '') {
    if (!warned.has(key)) {
      warned.add(key);
      console.warn(`i18n: missing key ${key}`); // eslint-disable-line no-console
    }
    s = key;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined || vars[k] === null ? m : String(vars[k])));
  return s;
}

/** has(key): whether key has a text in the current language or in English. */
export function has(key) {
  return dict[key] !== undefined || fallback[key] !== undefined;
}

export { fmt };
