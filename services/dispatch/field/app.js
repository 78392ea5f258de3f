// Entry point: sign-in, the views of the signed-in role (grid worker or a unit's field staff), the outbox's
// 待发送 N always in sight, and the service worker that lets the app start without signal.

import { clearSession, currentSession, loadConfig, login, saveSession, whenUnauthorized } from './api.js';
import { assignmentView, crewListView } from './crew.js';
import { fill, h, notice } from './dom.js';
import { ledgerView, reportView, returnVisitView, todayView } from './grid.js';
import { ROLES, TEXT, label } from './labels.js';
import { outbox } from './db.js';
import { drain, items, subscribe } from './outbox.js';
import { outboxView } from './outboxview.js';

const app = document.getElementById('app');
const bar = document.getElementById('bar');
const tabs = document.getElementById('tabs');
const toastBox = document.getElementById('toast');
const ROLES_HERE = ['grid_worker', 'unit'];
let session = null;
let current = null; // { hash, list } — list: re-read when the outbox changes

const arg = (m, i) => (m[i] === undefined ? null : decodeURIComponent(m[i]));
const ROUTES = [
  { re: /^#\/today$/, role: 'grid_worker', list: true, view: (root, ctx) => todayView(root, ctx) },
  { re: /^#\/report(?:\/([^/]+))?$/, role: 'grid_worker', view: (r, c, m) => reportView(r, c, { householdId: arg(m, 1) }) },
  { re: /^#\/ledger(?:\/([^/]+))?$/, role: 'grid_worker', view: (r, c, m) => ledgerView(r, c, { householdId: arg(m, 1) }) },
  { re: /^#\/visit\/([^/]+)$/, role: 'grid_worker', view: (r, c, m) => returnVisitView(r, c, { visitId: arg(m, 1) }) },
  { re: /^#\/crew$/, role: 'unit', list: true, view: (r, c) => crewListView(r, c) },
  { re: /^#\/a\/([^/]+)$/, role: 'unit', list: true, view: (r, c, m) => assignmentView(r, c, { id: arg(m, 1) }) },
  { re: /^#\/outbox$/, list: true, view: (r, c) => outboxView(r, c) },
  { re: /^#\/edit\/(\d+)$/, view: (r, c, m) => editView(r, c, Number(m[1])) },
];

async function editView(root, ctx, seq) {
  const item = (await items()).find((i) => i.seq === seq);
  if (!item) return ctx.go('#/outbox');
  if (item.kind === 'grid_report') return reportView(root, ctx, { edit: item });
  if (item.kind === 'ledger') return ledgerView(root, ctx, { edit: item });
  if (item.kind === 'return_visit') return returnVisitView(root, ctx, { edit: item });
  return assignmentView(root, ctx, { id: item.subject.slice(2), edit: item });
}

const home = () => (session && session.role === 'unit' ? '#/crew' : '#/today');

let toastTimer = null;
const ctx = {
  go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  },
  rerender: () => render(),
  toast(text) {
    toastBox.textContent = text;
    toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (toastBox.hidden = true), 4000);
  },
};

async function render() {
  if (!session) return;
  const hash = location.hash || home();
  const route = ROUTES.find((r) => r.re.test(hash) && (!r.role || r.role === session.role));
  if (!route) {
    location.replace(home());
    return;
  }
  for (const a of tabs.querySelectorAll('a')) a.classList.toggle('on', hash.startsWith(a.getAttribute('href')));
  const view = h('div', { class: 'view' });
  fill(app, view); // a slower earlier render fills a detached view, never this one
  current = { hash, list: Boolean(route.list) };
  try {
    await route.view(view, ctx, hash.match(route.re));
  } catch (err) {
    fill(view, h('p', { class: 'notice error', role: 'alert' }, err.message || String(err)));
  }
}

async function updateCount() {
  if (!session) return;
  const list = await items();
  const waiting = list.filter((i) => i.status !== 'parked').length;
  const refused = list.length - waiting;
  const chip = bar.querySelector('.outbox-chip');
  if (!chip) return;
  chip.dataset.count = String(waiting);
  chip.dataset.refused = String(refused);
  chip.classList.toggle('alert', refused > 0);
  fill(chip, `${TEXT.outbox} `, h('b', { class: 'n' }, String(waiting)), refused ? h('span', { class: 'refused' }, ` · 退回 ${refused}`) : null);
}

function showNet() {
  const net = bar.querySelector('.net');
  if (net) net.hidden = navigator.onLine;
}

subscribe((event) => {
  updateCount();
  if (event.delivered) ctx.toast(`${TEXT.sent}：${event.delivered.title}`);
  if (event.parked) ctx.toast(`${TEXT.refused}：${event.parked.error.message}`);
  // Lists are read again when something changed; a form being filled in is never redrawn under the fingers.
  if (current && current.list && (event.delivered || event.parked || event.discarded || event.replaced || current.hash === '#/outbox'))
    render();
});
addEventListener('online', () => {
  showNet();
  if (current && current.list) render();
});
addEventListener('offline', showNet);
addEventListener('hashchange', render);

function signOut(message = '') {
  session = null;
  clearSession();
  showLogin(message);
}

function showLogin(message = '') {
  fill(bar, h('h1', {}, TEXT.title, ' ', h('small', {}, TEXT.subtitle)));
  fill(tabs);
  tabs.hidden = true;
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, maxlength: 64, autocapitalize: 'none' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 256 });
  const line = h('p', { class: 'notice', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary big' }, TEXT.signIn);
  const form = h(
    'form',
    {
      class: 'form login',
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        notice(line, 'info', TEXT.signingIn);
        try {
          const s = await login(username.value.trim(), password.value);
          if (!ROLES_HERE.includes(s.role)) {
            notice(line, 'error', TEXT.wrongRole);
            submit.disabled = false;
            return;
          }
          saveSession(s);
          start(s);
        } catch (err) {
          notice(line, 'error', err.message);
          password.value = '';
          submit.disabled = false;
        }
      },
    },
    h('h2', {}, '登录'),
    h('p', { class: 'muted' }, '网格员与责任单位现场人员使用'),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, TEXT.username), username),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, TEXT.password), password),
    line,
    submit,
  );
  fill(app, form);
  if (message) notice(line, 'error', message);
  // Actions of a signed-out (or expired) session stay on the phone and go out once that account signs in again.
  outbox.all().then((kept) => {
    if (kept.length && !session)
      form.append(h('p', { class: 'notice info kept' }, `本机保存着 ${kept.length} 项待发送的操作，登录原账号后自动发送`));
  });
}

function start(s) {
  session = s;
  fill(
    bar,
    h('h1', {}, TEXT.title),
    h('span', { class: 'net', hidden: navigator.onLine }, TEXT.offline),
    h('a', { class: 'outbox-chip', href: '#/outbox' }, TEXT.outbox), // its name is what it shows: 待发送 N
    h(
      'div',
      { class: 'who' },
      h('span', { class: 'name' }, s.display_name),
      h('span', { class: 'role' }, label(ROLES, s.role)),
      h('button', { type: 'button', class: 'link', onclick: () => signOut() }, TEXT.signOut),
    ),
  );
  const tab = (href, text) => h('a', { href }, text);
  fill(
    tabs,
    s.role === 'unit'
      ? [tab('#/crew', '我的派单'), tab('#/outbox', TEXT.outbox)]
      : [tab('#/today', '今日'), tab('#/report', '一键上报'), tab('#/ledger', '访民问暖'), tab('#/outbox', TEXT.outbox)],
  );
  tabs.hidden = false;
  updateCount();
  if (!location.hash || !ROUTES.some((r) => r.re.test(location.hash) && (!r.role || r.role === s.role))) location.replace(home());
  render();
  drain();
}

whenUnauthorized(() => signOut(TEXT.sessionExpired));

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/field/sw.js', { scope: '/field/' }).catch(() => {
    // the app still works online; only the offline start needs the worker
  });
}

await loadConfig();
const saved = currentSession();
if (saved && ROLES_HERE.includes(saved.role)) start(saved);
else showLogin();
performance.mark('field-ready');
document.documentElement.dataset.ready = '1';
