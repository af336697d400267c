// SPDX-License-Identifier: Apache-2.0
// Locale-aware formatting of numbers, sizes, durations and dates for the console. The
// locale follows the UI language (i18n.js calls setLocale on every switch). Every function
// accepts null/undefined/NaN and returns '—' for them, so pages can pass server values as-is.

let locale = 'en';
const cache = new Map();

function nf(opts) {
  const key = locale + JSON.stringify(opts);
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, opts);
    cache.set(key, f);
  }
  return f;
}

function dtf(opts) {
  const key = `d${locale}${JSON.stringify(opts)}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, opts);
    cache.set(key, f);
  }
  return f;
}

const DASH = '—';
const bad = (v) => v === null || v === undefined || v === '' || (typeof v === 'number' && !Number.isFinite(v));

/** setLocale(lang): 'en' or 'zh-CN'; called by i18n.js. */
export function setLocale(lang) {
  locale = lang === 'zh-CN' ? 'zh-CN' : 'en';
}

/** num(v, digits?): a number with grouping; digits = maximum fraction digits (default: up to 3
 * significant decimals for small values, none for large ones). Non-numbers are shown as text. */
export function num(v, digits) {
  if (bad(v)) return DASH;
  if (typeof v !== 'number') return String(v);
  if (digits === undefined) {
    const a = Math.abs(v);
    digits = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3;
  }
  return nf({ maximumFractionDigits: digits }).format(v);
}

/** int(v): an integer with grouping (1,234,567). */
export function int(v) {
  if (bad(v)) return DASH;
  return nf({ maximumFractionDigits: 0 }).format(Math.round(Number(v)));
}

/** pct(v, digits=1): v is a fraction (0.25 -> "25%"). */
export function pct(v, digits = 1) {
  if (bad(v)) return DASH;
  return nf({ style: 'percent', maximumFractionDigits: digits }).format(Number(v));
}

/** bytes(n): 1536 -> "1.5 KiB" (binary units). */
export function bytes(n) {
  if (bad(n)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${nf({ maximumFractionDigits: i === 0 ? 0 : v < 10 ? 1 : 0 }).format(v)} ${units[i]}`;
}

/** rate(v, unit): "1,234 /s" style: a number and a unit joined by a thin space. */
export function rate(v, unit = '/s') {
  if (bad(v)) return DASH;
  return `${num(Number(v))} ${unit}`;
}

/** duration(ms): compact duration, e.g. "850 ms", "12 s", "3 min 5 s", "2 h 10 min", "4 d 3 h". */
export function duration(ms) {
  if (bad(ms)) return DASH;
  const v = Math.abs(Number(ms));
  const zh = locale === 'zh-CN';
  const u = zh ? { ms: '毫秒', s: '秒', m: '分', h: '小时', d: '天' } : { ms: 'ms', s: 's', m: 'min', h: 'h', d: 'd' };
  const sep = zh ? '' : ' ';
  if (v < 1000) return `${nf({ maximumFractionDigits: v < 10 ? 1 : 0 }).format(v)}${sep}${u.ms}`;
  const s = Math.floor(v / 1000);
  if (s < 60) return `${nf({ maximumFractionDigits: 1 }).format(v / 1000)}${sep}${u.s}`;
  const parts = [];
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  if (d) parts.push(`${d}${sep}${u.d}`, hh ? `${hh}${sep}${u.h}` : '');
  else if (hh) parts.push(`${hh}${sep}${u.h}`, mm ? `${mm}${sep}${u.m}` : '');
  else parts.push(`${mm}${sep}${u.m}`, ss ? `${ss}${sep}${u.s}` : '');
  return parts.filter(Boolean).join(zh ? '' : ' ');
}

/** dateTime(ms): local date and time to the second ("2026-11-23 14:05:09" style, locale order). */
export function dateTime(ms) {
  if (bad(ms)) return DASH;
  return dtf({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    second: '2-digit', hour12: false }).format(new Date(Number(ms)));
}

/** date(ms): local date only. */
export function date(ms) {
  if (bad(ms)) return DASH;
  return dtf({ year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(Number(ms)));
}

/** time(ms): local time of day to the second. */
export function time(ms) {
  if (bad(ms)) return DASH;
  return dtf({ hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(new Date(Number(ms)));
}

/** relTime(ms, now?): "5 minutes ago" / "5分钟前"; "in 3 hours" for future times. */
export function relTime(ms, now = Date.now()) {
  if (bad(ms)) return DASH;
  const diff = (Number(ms) - now) / 1000;
  const a = Math.abs(diff);
  const rtf = cache.get(`r${locale}`) || new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  cache.set(`r${locale}`, rtf);
  if (a < 45) return rtf.format(Math.round(diff), 'second');
  if (a < 2700) return rtf.format(Math.round(diff / 60), 'minute');
  if (a < 64800) return rtf.format(Math.round(diff / 3600), 'hour');
  if (a < 86400 * 26) return rtf.format(Math.round(diff / 86400), 'day');
  if (a < 86400 * 320) return rtf.format(Math.round(diff / (86400 * 30)), 'month');
  return rtf.format(Math.round(diff / (86400 * 365)), 'year');
}

/** value(v, unit?): a telemetry value: numbers via num(), booleans and strings as text, plus unit. */
export function value(v, unit) {
  if (bad(v)) return DASH;
  const s = typeof v === 'number' ? num(v) : String(v);
  return unit ? `${s} ${unit}` : s;
}

/** The formatting functions as one object: ctx.fmt in page modules. */
export const fmt = { num, int, pct, bytes, rate, duration, dateTime, date, time, relTime, value };
