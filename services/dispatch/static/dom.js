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

// "1天3小时" / "2小时05分" / "45秒"
export function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}天${hh}小时`;
  if (hh > 0) return `${hh}小时${String(mm).padStart(2, '0')}分`;
  if (mm > 0) return `${mm}分${String(s % 60).padStart(2, '0')}秒`;
  return `${s}秒`;
}

export function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)}%`;
}

export function number(value, digits = 1) {
  return value === null || value === undefined ? '—' : Number(value).toFixed(digits);
}

// A message line under a form or at the top of a panel: kind 'error' or 'ok'.
export function notice(el, kind, text) {
  el.classList.remove('error', 'ok');
  el.classList.add('notice', kind);
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text;
  el.hidden = !text;
}

export function clearNotice(el) {
  el.textContent = '';
  el.hidden = true;
}

// Where a place is: its name as dispatch passes it on (小区 · 楼栋 · 单元 · 室, from the registry), else the ids.
export function place(location) {
  if (!location) return '—';
  if (location.place_name) return location.place_name;
  const parts = [location.building_id, location.household_id].filter(Boolean);
  return parts.length ? parts.join(' · ') : location.street_id || '—';
}

// Each body cell names its column (data-label): a phone shows a table's rows as cards, each value with its label.
export function labelCells(table) {
  const head = table.tHead && table.tHead.rows[0];
  if (!head) return table;
  const names = [...head.cells].map((th) => th.textContent);
  for (const body of table.tBodies) {
    for (const row of body.rows) {
      [...row.cells].forEach((td, i) => {
        if (names[i] && !td.hasAttribute('data-label')) td.dataset.label = names[i];
      });
    }
  }
  return table;
}

// A local date-time input's value as an ISO instant with the browser's offset.
export function isoFromLocal(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
