// Entry point: sign-in, then the view for the signed-in role, kept current by the live stream.

import { clearSession, currentSession, loadConfig, login, saveSession, whenUnauthorized } from './api.js';
import { fill, h, notice } from './dom.js';
import { live } from './live.js';
import { ROLES, TEXT, label } from './labels.js';
import { notifySettings } from './notify.js';
import { tabbedView } from './tabs.js';
import { taskForceView } from './taskforce.js';
import { unitView } from './unit.js';
import { loadUnits } from './units.js';

const app = document.getElementById('app');
const user = document.getElementById('user');
let running = null; // { view, stream }

function stop() {
  if (!running) return;
  running.stream.stop();
  running.view.destroy();
  running = null;
}

function signOut(message = '') {
  stop();
  clearSession();
  showLogin(message);
}

// A unit works its assignments and sets who hears of them (通知设置).
function unitConsole(root) {
  return tabbedView(root, [
    ['assignments', TEXT.assignmentsTab, (panel) => unitView(panel)],
    ['notify', TEXT.notifySettings, (panel) => notifySettings(panel)],
  ]);
}

function showLogin(message = '') {
  fill(user);
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, maxlength: 64 });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    maxlength: 256,
  });
  const line = h('p', { class: 'notice', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, TEXT.signIn);
  const form = h(
    'form',
    {
      class: 'login',
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        notice(line, 'ok', TEXT.signingIn);
        try {
          const s = await login(username.value.trim(), password.value);
          saveSession(s);
          showApp(s);
        } catch (err) {
          notice(line, 'error', err.message);
          password.value = '';
          submit.disabled = false;
        }
      },
    },
    h('h2', {}, TEXT.title),
    h('p', { class: 'muted' }, TEXT.subtitle),
    h('label', { class: 'field' }, h('span', {}, TEXT.username), username),
    h('label', { class: 'field' }, h('span', {}, TEXT.password), password),
    line,
    submit,
  );
  fill(app, form);
  if (message) notice(line, 'error', message);
  username.focus();
}

async function showApp(s) {
  stop();
  await loadUnits(); // the units' names, before anything names a unit
  if (!currentSession()) return; // signed out meanwhile (an expired token)
  const dot = h('span', { class: 'live off', title: TEXT.liveLost }, TEXT.live);
  fill(
    user,
    h('span', { class: 'who' }, s.display_name),
    h('span', { class: 'role' }, label(ROLES, s.role)),
    dot,
    h('button', { type: 'button', class: 'link', onclick: () => signOut() }, TEXT.signOut),
  );
  const root = h('div', { class: 'view' });
  fill(app, root);
  const supervisor = s.role === 'task_force' || s.role === 'district';
  const view = supervisor ? taskForceView(root, { session: s }) : unitConsole(root);
  const stream = live({
    token: s.token,
    onChange: () => view.refresh(),
    onState: (up) => {
      dot.className = `live ${up ? 'on' : 'off'}`;
      dot.title = up ? TEXT.live : TEXT.liveLost;
    },
  });
  running = { view, stream };
}

whenUnauthorized(() => signOut(TEXT.sessionExpired));

await loadConfig();
const s = currentSession();
if (s) showApp(s);
else showLogin();
