// SPDX-License-Identifier: Apache-2.0
// Pure node checks of the console's translation files (no daemon, no browser): for every
// area listed in web/js/core/i18n.js, web/i18n/en/<area>.json and web/i18n/zh-CN/<area>.json
// exist, are flat objects of non-empty strings with keys prefixed by the area, have the
// same key sets and the same {placeholders}, and the Chinese texts are not English left
// untranslated; every i18n key written literally in web/js is defined in English.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './harness.mjs';

const WEB = join(repoRoot, 'web');
const LANGS = ['en', 'zh-CN'];

function areas() {
  const src = readFileSync(join(WEB, 'js', 'core', 'i18n.js'), 'utf8');
  const m = /export const AREAS\s*=\s*\[([^\]]*)\]/.exec(src);
  assert.ok(m, 'web/js/core/i18n.js has no `export const AREAS = [...]`');
  return [...m[1].matchAll(/'([^']+)'|"([^"]+)"/g)].map((x) => x[1] || x[2]);
}

function load(lang, area) {
  const f = join(WEB, 'i18n', lang, `${area}.json`);
  assert.ok(existsSync(f), `missing web/i18n/${lang}/${area}.json`);
  let obj;
  try {
    obj = JSON.parse(readFileSync(f, 'utf8'));
  } catch (e) {
    assert.fail(`web/i18n/${lang}/${area}.json is not valid JSON: ${e.message}`);
  }
  assert.ok(obj && typeof obj === 'object' && !Array.isArray(obj), `${lang}/${area}.json is not an object`);
  return obj;
}

const placeholders = (s) => [...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
const AREA_LIST = areas();

test('the area list names the contract areas', () => {
  for (const a of ['core', 'overview', 'system', 'region', 'devices', 'explorer', 'admin']) {
    assert.ok(AREA_LIST.includes(a), `AREAS in i18n.js lacks ${a}`);
  }
});

for (const area of AREA_LIST) {
  test(`${area}: en and zh-CN have the same keys`, () => {
    const en = load('en', area);
    const zh = load('zh-CN', area);
    const onlyEn = Object.keys(en).filter((k) => !(k in zh));
    const onlyZh = Object.keys(zh).filter((k) => !(k in en));
    assert.deepEqual({ onlyEn, onlyZh }, { onlyEn: [], onlyZh: [] },
      `web/i18n/{en,zh-CN}/${area}.json key sets differ`);
  });

  test(`${area}: flat, prefixed, non-empty strings with matching placeholders`, () => {
    const en = load('en', area);
    const zh = load('zh-CN', area);
    const bad = [];
    for (const [lang, obj] of [['en', en], ['zh-CN', zh]]) {
      for (const [k, v] of Object.entries(obj)) {
        if (!k.startsWith(`${area}.`)) bad.push(`${lang}: key ${k} lacks the prefix "${area}."`);
        if (typeof v !== 'string') bad.push(`${lang}: ${k} is not a string`);
        else if (!v.trim()) bad.push(`${lang}: ${k} is empty`);
      }
    }
    for (const k of Object.keys(en)) {
      if (typeof zh[k] === 'string' && placeholders(en[k]) !== placeholders(zh[k])) {
        bad.push(`${k}: placeholders differ (en {${placeholders(en[k])}} zh-CN {${placeholders(zh[k])}})`);
      }
    }
    assert.deepEqual(bad, []);
  });

  test(`${area}: Chinese texts are translated`, () => {
    const en = load('en', area);
    const zh = load('zh-CN', area);
    // An English phrase (two words of 3+ letters) identical in both files was not translated.
    const untranslated = Object.keys(en).filter((k) => typeof zh[k] === 'string' && zh[k] === en[k]
      && /[A-Za-z]{3,}\s+[A-Za-z]{3,}/.test(zh[k]));
    assert.deepEqual(untranslated, [], `zh-CN/${area}.json keeps English texts`);
    const values = Object.values(zh).filter((v) => typeof v === 'string');
    if (values.length) {
      const cjk = values.filter((v) => /[\u3400-\u9fff]/.test(v)).length;
      assert.ok(cjk / values.length >= 0.5, `only ${cjk} of ${values.length} zh-CN/${area} texts contain Chinese`);
    }
  });
}

function jsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...jsFiles(p));
    else if (name.endsWith('.js')) out.push(p);
  }
  return out;
}

test('every i18n key written literally in web/js exists in English', () => {
  const en = Object.assign({}, ...AREA_LIST.map((a) => (existsSync(join(WEB, 'i18n', 'en', `${a}.json`)) ? load('en', a) : {})));
  const re = new RegExp(`['"\`]((?:${AREA_LIST.join('|')})\\.[A-Za-z0-9_]+(?:\\.[A-Za-z0-9_]+)*)['"\`]`, 'g');
  const missing = [];
  for (const f of jsFiles(join(WEB, 'js'))) {
    // Comments may quote example keys: drop them (a // after ':' or a quote is in a URL).
    const src = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
    for (const m of src.matchAll(re)) {
      const key = m[1];
      if (/\.(js|json|css|html|svg|png)$/.test(key)) continue;
      if (!(key in en)) missing.push(`${f.slice(repoRoot.length + 1)}: ${key}`);
    }
  }
  assert.deepEqual([...new Set(missing)], []);
});
