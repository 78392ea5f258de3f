// Building the page from data without ever parsing data as HTML: every text goes in as a text node.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const TIME = new Intl.DateTimeFormat('zh-CN', {
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : TIME.format(d);
}

// "1天3小时" / "2小时05分" / "45分"
export function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}天${hh}小时`;
  if (hh > 0) return `${hh}小时${String(mm).padStart(2, '0')}分`;
  if (mm > 0) return `${mm}分钟`;
  return `${s}秒`;
}

// The local calendar day (the phone's zone), as the APIs take it: 2026-12-04.
export function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

// A message line: kind 'error', 'ok' or 'info'.
export function notice(el, kind, text) {
  el.classList.remove('error', 'ok', 'info');
  el.classList.add('notice', kind);
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text;
  el.hidden = !text;
}

export function field(text, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, text), input, hint && h('small', {}, hint));
}

// A number typed on a phone keyboard: '' → null, '18,5' → 18.5, anything else NaN.
export function decimal(value) {
  const text = String(value || '').trim().replace(',', '.').replace('，', '.');
  if (!text) return null;
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
}

// A local date-time input's value as an ISO instant with the browser's offset.
export function isoFromLocal(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

// Where a place is: its name when the API gives one, else the ids.
export function placeName(location, fallback) {
  if (location && location.place_name) return location.place_name;
  if (fallback) return fallback;
  if (!location) return '—';
  const parts = [location.building_id, location.household_id].filter(Boolean);
  return parts.length ? parts.join(' · ') : location.street_id || '—';
}
