// The unit's field staff (责任单位现场人员): my assignments in the console's order (emergencies and priority
// residents first, then time left), and 签收, 到场, 进展, 办结, 退单, 延期 — each one queued in the outbox.

import { q } from './api.js';
import { cached, load } from './data.js';
import { decimal, duration, field, fill, h, isoFromLocal, notice, placeName, when } from './dom.js';
import {
  ASSIGNMENT_STATUSES,
  CATEGORIES,
  CLOCKS,
  ESCALATIONS,
  PRIORITIES,
  RETURN_REASONS,
  TEXT,
  householdsText,
  label,
} from './labels.js';
import { enqueue, items, replace } from './outbox.js';
import { photoPicker } from './photos.js';

// What each queued action makes of the assignment, so the phone shows the next step before the signal returns.
const AFTER = { 'sign-in': 'signed_in', arrive: 'on_site', resolve: 'resolved', return: 'returned' };
const OPEN = ['dispatched', 'signed_in', 'on_site'];
export const FORMS = ['progress', 'resolve', 'return', 'extensions'];

async function queuedOf() {
  const byAssignment = new Map();
  for (const i of await items()) {
    if (!i.subject || !i.subject.startsWith('a:') || i.status === 'parked') continue;
    const id = i.subject.slice(2);
    if (!byAssignment.has(id)) byAssignment.set(id, []);
    byAssignment.get(id).push(i);
  }
  return byAssignment;
}

function effective(a, queued) {
  let s = a.status;
  for (const i of queued.get(a.id) || []) s = AFTER[i.kind] || s;
  return s;
}

function clockText(a, left) {
  if (left === null || a.seconds_left === null || a.seconds_left === undefined) return '';
  const what = label(CLOCKS, a.clock);
  return left >= 0 ? `${what}剩余 ${duration(left)}` : `${what}超时 ${duration(left)}`;
}

function badges(a) {
  return h(
    'div',
    { class: 'badges' },
    a.priority && a.priority !== 'normal' ? h('span', { class: `badge p-${a.priority}` }, label(PRIORITIES, a.priority)) : null,
    a.priority_resident ? h('span', { class: 'badge resident' }, '重点人群') : null,
    householdsText(a.affected_households) ? h('span', { class: 'badge households' }, householdsText(a.affected_households)) : null,
    a.escalation_level ? h('span', { class: 'badge esc' }, label(ESCALATIONS, a.escalation_level)) : null,
    a.hurries ? h('span', { class: 'badge esc' }, `12345催单 ${a.hurries} 次`) : null,
  );
}

// What 12345 callers added since the assignment was dispatched (补充诉求, 催单), oldest first.
const CALLER_NOTE = { supplemented: '补充诉求', hurried: '催单' };

function callerNotes(a) {
  const notes = a.caller_notes || [];
  if (!notes.length) return null;
  return h(
    'section',
    { class: 'caller-notes' },
    h('h3', {}, '12345 来电'),
    h(
      'ul',
      {},
      notes.map((n) =>
        h('li', { dataset: { kind: n.kind } }, h('strong', {}, CALLER_NOTE[n.kind] || n.kind), ` ${when(n.at)}`, n.text ? `：${n.text}` : ''),
      ),
    ),
  );
}

function title(a, verb) {
  return `${verb} · ${label(CATEGORIES, a.category)} · ${placeName(a.location)}`;
}

async function act(ctx, a, kind, body, { photos = [], edit = null, back = null } = {}) {
  const action = {
    kind,
    title: title(a, { 'sign-in': '签收', arrive: '到场', progress: '进展', resolve: '办结', return: '退单', extensions: '延期申请' }[kind]),
    subject: `a:${a.id}`,
    service: 'dispatch',
    path: `/v1/assignments/${q(a.id)}/${kind}`,
    body,
    idem: 'header',
    photos,
    photoPath: kind === 'resolve' ? ['photo_refs'] : null,
    context: { assignment: a },
  };
  if (edit) await replace(edit.seq, action);
  else await enqueue(action);
  ctx.toast(navigator.onLine ? '已提交，正在发送' : TEXT.queued);
  if (back) ctx.go(back);
  else ctx.rerender();
}

export async function crewListView(root, ctx) {
  fill(root, h('p', { class: 'empty' }, TEXT.loading));
  let result;
  try {
    result = await load('dispatch', '/v1/assignments', 'assignments');
  } catch (err) {
    fill(root, h('p', { class: 'notice error', role: 'alert' }, err.message));
    return;
  }
  const queued = await queuedOf();
  const fetched = new Date(result.at).getTime();
  const list = result.data.filter((a) => OPEN.includes(effective(a, queued)) || queued.has(a.id));
  const card = (a) => {
    const left = a.seconds_left === null || a.seconds_left === undefined ? null : a.seconds_left - (Date.now() - fetched) / 1000;
    const status = effective(a, queued);
    const pending = queued.has(a.id);
    let quick = null;
    if (status === 'dispatched') quick = ['sign-in', '签收'];
    else if (status === 'signed_in') quick = ['arrive', '到场'];
    return h(
      'article',
      { class: `card assignment${left !== null && left < 0 ? ' over' : ''}`, dataset: { id: a.id, caseId: a.case_id, status } },
      h(
        'a',
        { class: 'card-link', href: `#/a/${q(a.id)}` },
        badges(a),
        h('div', { class: 'card-title' }, label(CATEGORIES, a.category), ' · ', placeName(a.location)),
        h(
          'div',
          { class: 'card-meta' },
          h('span', { class: 'status' }, label(ASSIGNMENT_STATUSES, status), pending ? '（待发送）' : ''),
          h('span', { class: 'clock' }, clockText(a, left)),
        ),
      ),
      quick && status !== 'resolved'
        ? h(
            'div',
            { class: 'card-actions' },
            h('button', { type: 'button', class: 'primary', onclick: () => act(ctx, a, quick[0]) }, quick[1]),
          )
        : null,
    );
  };
  fill(
    root,
    result.fresh ? null : h('p', { class: 'notice info stale' }, `${TEXT.offlineData}，${TEXT.updatedAt} ${when(result.at)}`),
    h('h2', {}, '我的派单 ', h('span', { class: 'count' }, `（${list.length}）`)),
    list.length ? h('div', { class: 'cards assignments' }, list.map(card)) : h('p', { class: 'empty' }, TEXT.noAssignments),
  );
}

// A coarse position (about 100 m) for 到场, or null when the phone will not tell.
function position() {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) =>
        resolve({
          lat: Math.round(p.coords.latitude * 1000) / 1000,
          lon: Math.round(p.coords.longitude * 1000) / 1000,
          accuracy_m: Math.max(100, Math.round(p.coords.accuracy || 0)),
        }),
      () => resolve(null),
      { enableHighAccuracy: false, timeout: 8000, maximumAge: 120_000 },
    );
  });
}

export async function assignmentView(root, ctx, { id, form = null, edit = null }) {
  // Read again when there is signal (another person of the unit may have acted), else the copy on the phone.
  const list = await load('dispatch', '/v1/assignments', 'assignments')
    .then((r) => r.data)
    .catch(async () => (await cached('assignments')) || []);
  const a = list.find((x) => x.id === id) || (edit && edit.context && edit.context.assignment);
  if (!a || !a.id) {
    const why = navigator.onLine ? '该派单已办结、退单或撤回' : '本机没有该派单的数据，请联网后刷新';
    fill(root, h('p', { class: 'notice info' }, why), h('a', { class: 'button', href: '#/crew' }, TEXT.back));
    return;
  }
  const queued = await queuedOf();
  const status = effective(a, queued);
  const line = h('p', { class: 'notice', hidden: true });
  const formBox = h('div', { class: 'form-box' });
  const show = (name) => {
    fill(formBox, actionForm(name));
    const first = formBox.querySelector('textarea, input, select');
    if (first) first.focus();
  };
  const withPosition = h('input', { type: 'checkbox', name: 'with_position' });
  const buttons = [];
  const b = (text, fn, cls = '') => buttons.push(h('button', { type: 'button', class: cls, onclick: fn }, text));
  if (status === 'dispatched') b('签收', () => act(ctx, a, 'sign-in'), 'primary big');
  if (status === 'signed_in')
    b(
      '到场',
      async (e) => {
        e.target.disabled = true;
        const where = withPosition.checked ? await position() : null;
        await act(ctx, a, 'arrive', where ? { position: where } : undefined);
      },
      'primary big',
    );
  if (status === 'on_site') b('办结', () => show('resolve'), 'primary big');
  if (status === 'signed_in' || status === 'on_site') {
    b('进展', () => show('progress'));
    b('延期', () => show('extensions'));
  }
  if (OPEN.includes(status)) b('退单', () => show('return'), 'danger');

  function actionForm(name) {
    const message = h('p', { class: 'notice', hidden: true });
    const body = edit && edit.kind === name ? edit.body : null;
    let heading;
    let fields;
    let read;
    let photos = null;
    if (name === 'progress') {
      const note = h('textarea', { name: 'note', rows: 3, maxlength: 2000, value: body ? body.note : '' });
      heading = '办理进展';
      fields = [field('进展说明', note)];
      read = () => (note.value.trim() ? { note: note.value.trim() } : { error: '请填写进展说明' });
    } else if (name === 'resolve') {
      const done = h('textarea', { name: 'action_taken', rows: 3, maxlength: 2000, value: body ? body.action_taken : '' });
      const temp = h('input', {
        type: 'text',
        inputmode: 'decimal',
        name: 'measured_temp_c',
        placeholder: '如 19.5',
        value: body && body.measured_temp_c !== null && body.measured_temp_c !== undefined ? String(body.measured_temp_c) : '',
      });
      photos = photoPicker({ initial: edit && edit.kind === name ? edit.photos.map((p) => p.blob) : [] });
      heading = '办结';
      fields = [field('处置情况', done), field('实测室温（°C）', temp), photos.el];
      read = () => {
        const t = decimal(temp.value);
        if (!done.value.trim()) return { error: '请填写处置情况' };
        if (Number.isNaN(t)) return { error: '实测室温：请输入数字，如 19.5' };
        return { action_taken: done.value.trim(), measured_temp_c: t, photo_refs: [] };
      };
    } else if (name === 'return') {
      const reason = h(
        'select',
        { name: 'reason' },
        Object.entries(RETURN_REASONS).map(([code, text]) => h('option', { value: code, selected: body && body.reason === code }, text)),
      );
      const note = h('textarea', { name: 'note', rows: 2, maxlength: 1000, value: (body && body.note) || '' });
      heading = '退单';
      fields = [field('退单原因', reason), field('说明（可选）', note)];
      read = () => ({ reason: reason.value, note: note.value.trim() || null });
    } else {
      const due = h('input', { type: 'datetime-local', name: 'resolve_due' });
      const reason = h('textarea', { name: 'reason', rows: 2, maxlength: 1000, value: body ? body.reason : '' });
      heading = `申请延期（当前办结时限 ${when(a.resolve_due)}）`;
      fields = [field('延期至', due), field('延期原因', reason)];
      read = () => {
        const iso = isoFromLocal(due.value);
        if (!iso) return { error: '请选择延期后的办结时间' };
        if (!reason.value.trim()) return { error: '请填写延期原因' };
        return { resolve_due: iso, reason: reason.value.trim() };
      };
    }
    return h(
      'form',
      {
        class: `form action-form form-${name}`,
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const value = read();
          if (value.error) return notice(message, 'error', value.error);
          await act(ctx, a, name, value, {
            photos: photos ? await photos.blobs() : [],
            edit: edit && edit.kind === name ? edit : null,
            back: edit ? '#/outbox' : name === 'resolve' || name === 'return' ? '#/crew' : `#/a/${q(a.id)}`,
          });
        },
      },
      h('h3', {}, heading),
      fields,
      message,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, TEXT.submit),
        h('button', { type: 'button', onclick: () => (edit ? ctx.go('#/outbox') : fill(formBox)) }, TEXT.cancel),
      ),
    );
  }

  const pending = queued.get(a.id) || [];
  const loc = a.location || {};
  fill(
    root,
    h('a', { class: 'back', href: '#/crew' }, `‹ ${TEXT.back}`),
    h(
      'section',
      { class: 'summary assignment-detail', dataset: { id: a.id, status } },
      badges(a),
      h('h2', {}, label(CATEGORIES, a.category)),
      h('div', { class: 'card-title' }, placeName(a.location)),
      h('dl', { class: 'facts' },
        h('dt', {}, '案件'), h('dd', { class: 'mono' }, a.case_id),
        h('dt', {}, '状态'), h('dd', { class: 'status' }, label(ASSIGNMENT_STATUSES, status), pending.length ? `（${pending.length} 项待发送）` : ''),
        h('dt', {}, '签收时限'), h('dd', {}, when(a.sign_in_due)),
        h('dt', {}, '到场时限'), h('dd', {}, when(a.on_site_due)),
        h('dt', {}, '办结时限'), h('dd', {}, when(a.resolve_due)),
        loc.household_id ? [h('dt', {}, '住户'), h('dd', { class: 'mono' }, loc.household_id)] : null,
      ),
    ),
    callerNotes(a),
    line,
    h('div', { class: 'actions wrap' }, buttons),
    status === 'signed_in' ? h('label', { class: 'check' }, withPosition, '附带当前位置（只记录约百米范围）') : null,
    formBox,
  );
  if (form || (edit && FORMS.includes(edit.kind))) show(form || edit.kind);
}
