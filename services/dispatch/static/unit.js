// The unit's view: its open assignments with the clock that matters now, and the actions on each
// (签收, 到场, 进展, 办结, 退单, 延期) — every one a call to dispatch's API, whose answer decides.

import { dispatch, q, uploadPhoto } from './api.js';
import { assignmentsTable, caseHeader, casePhotos, extensionsList, stages, timelineList } from './casedetail.js';
import { clearNotice, duration, fill, h, isoFromLocal, labelCells, notice, place, when } from './dom.js';
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
import { splitView } from './split.js';

const DUE = { sign_in: 'sign_in_due', on_site: 'on_site_due', resolve: 'resolve_due' };
const OPEN = ['dispatched', 'signed_in', 'on_site'];

// What the API answers when an action went through, for the confirmation line.
const DONE = {
  'sign-in': '已签收',
  arrive: '已到场',
  progress: '进展已记录',
  resolve: '已办结，等待网格员回访',
  return: '已退单',
  extensions: '延期申请已提交，等待街道专班审批',
};

export function unitView(root, { heading = '本单位派单' } = {}) {
  const state = { items: [], fetchedAt: Date.now(), seen: null, selected: null, form: null, flash: null, loadFailed: false };
  const count = h('span', { class: 'count' });
  const tbody = h('tbody');
  const empty = h('p', { class: 'empty', hidden: true }, TEXT.noAssignments);
  const listNotice = h('p', { class: 'notice', hidden: true });
  const detail = h('div', { class: 'detail-body' }, h('p', { class: 'empty' }, TEXT.pickOne));
  const lookupInput = h('input', {
    type: 'search',
    name: 'case_id',
    placeholder: TEXT.lookupPlaceholder,
    maxlength: 40,
    'aria-label': '案件编号',
  });
  const table = h(
    'table',
    { class: 'grid assignments' },
    h('thead', {}, h('tr', {}, ['优先', '案件', '位置', '状态', '当前时限', '操作'].map((t) => h('th', {}, t)))),
    tbody,
  );
  const split = splitView(h('div', { class: 'pane list-pane' }, table, empty), detail, {
    onBack: () => {
      state.selected = null;
      state.form = null;
      for (const row of tbody.children) row.classList.remove('selected');
      fill(detail, h('p', { class: 'empty' }, TEXT.pickOne));
    },
  });

  fill(
    root,
    h(
      'section',
      { class: 'toolbar' },
      h('h2', {}, heading, ' ', count),
      h(
        'form',
        {
          class: 'lookup',
          novalidate: true,
          onsubmit: (e) => {
            e.preventDefault();
            const id = lookupInput.value.trim();
            if (id) select(id);
          },
        },
        lookupInput,
        h('button', { type: 'submit' }, TEXT.lookup),
      ),
      h('button', { type: 'button', onclick: () => refresh() }, TEXT.refresh),
    ),
    listNotice,
    split.element,
  );

  function remaining(a) {
    if (a.seconds_left === null || a.seconds_left === undefined) return null;
    return a.seconds_left - (Date.now() - state.fetchedAt) / 1000;
  }

  // ok / near / over: colour only, from the deadline and the clock's length as the API gives them.
  function urgency(a, left) {
    if (left === null) return 'none';
    if (left < 0) return 'over';
    const length = (new Date(a[DUE[a.clock]]).getTime() - new Date(a.dispatched_at).getTime()) / 1000;
    return left < Math.max(600, 0.25 * length) ? 'near' : 'ok';
  }

  function clockText(a, left) {
    if (left === null) return '—';
    const what = label(CLOCKS, a.clock);
    return left >= 0 ? `${what}剩余 ${duration(left)}` : `${what}超时 ${duration(left)}`;
  }

  function primaryAction(a) {
    const act = (e, fn) => {
      e.stopPropagation();
      fn();
    };
    if (a.status === 'dispatched')
      return h('button', { type: 'button', class: 'primary', onclick: (e) => act(e, () => run(a, 'sign-in', undefined, 'list')) }, '签收');
    if (a.status === 'signed_in')
      return h('button', { type: 'button', class: 'primary', onclick: (e) => act(e, () => run(a, 'arrive', undefined, 'list')) }, '到场');
    if (a.status === 'on_site')
      return h(
        'button',
        { type: 'button', class: 'primary', onclick: (e) => act(e, () => select(a.case_id, 'resolve')) },
        '办结…',
      );
    return null;
  }

  function renderList() {
    count.textContent = `（${state.items.length}）`;
    empty.hidden = state.items.length > 0;
    const first = state.seen === null;
    const seen = state.seen || new Set();
    fill(
      tbody,
      state.items.map((a) => {
        const left = remaining(a);
        const fresh = !first && !seen.has(a.id);
        const row = h(
          'tr',
          {
            class: `row t-${urgency(a, left)}${fresh ? ' fresh' : ''}${state.selected === a.case_id ? ' selected' : ''}`,
            dataset: { caseId: a.case_id, assignmentId: a.id, status: a.status },
            tabindex: 0,
            onclick: () => select(a.case_id),
            onkeydown: (e) => {
              if (e.key === 'Enter') select(a.case_id);
            },
          },
          h(
            'td',
            { class: 'flags' },
            h(
              'div',
              { class: 'badges' },
              a.priority &&
                a.priority !== 'normal' &&
                h('span', { class: `badge p-${a.priority}` }, label(PRIORITIES, a.priority)),
              a.priority_resident && h('span', { class: 'badge resident' }, '重点人群'),
              householdsText(a.affected_households) &&
                h('span', { class: 'badge households' }, householdsText(a.affected_households)),
              a.escalation_level && h('span', { class: 'badge esc' }, label(ESCALATIONS, a.escalation_level)),
              fresh && h('span', { class: 'badge new' }, TEXT.newArrival),
            ),
          ),
          h('td', { class: 'case' }, h('div', { class: 'mono' }, a.case_id), h('div', {}, label(CATEGORIES, a.category))),
          h('td', { class: 'place' }, place(a.location)),
          h('td', { class: 'status' }, label(ASSIGNMENT_STATUSES, a.status)),
          h('td', { class: 'clock' }, clockText(a, left)),
          h('td', { class: 'act' }, primaryAction(a)),
        );
        row._assignment = a;
        return row;
      }),
    );
    labelCells(table);
    state.seen = new Set(state.items.map((a) => a.id));
  }

  function tick() {
    for (const row of tbody.children) {
      const a = row._assignment;
      const left = remaining(a);
      row.classList.remove('t-ok', 't-near', 't-over', 't-none');
      row.classList.add(`t-${urgency(a, left)}`);
      row.querySelector('.clock').textContent = clockText(a, left);
    }
  }

  async function refresh() {
    try {
      state.items = await dispatch('GET', '/v1/assignments');
      state.fetchedAt = Date.now();
      if (state.loadFailed) clearNotice(listNotice);
      state.loadFailed = false;
      renderList();
    } catch (err) {
      state.loadFailed = true;
      notice(listNotice, 'error', err.message);
    }
    if (state.selected && !state.form) await loadDetail(state.selected, { quiet: true });
  }

  // A confirmation or error line that outlives the re-rendering a live update causes.
  function flash(caseId, kind, text) {
    state.flash = { caseId, kind, text, until: Date.now() + 8000 };
    const line = detail.querySelector('.detail-notice');
    if (line && state.selected === caseId) notice(line, kind, text);
  }

  // Errors go to `where`: 'list', 'detail', or a form's own line — in the API's own words.
  async function run(a, action, body, where) {
    try {
      await dispatch('POST', `/v1/assignments/${q(a.id)}/${action}`, body);
    } catch (err) {
      if (where === 'list') notice(listNotice, 'error', err.message);
      else if (where === 'detail') flash(a.case_id, 'error', err.message);
      else notice(where, 'error', err.message);
      return false;
    }
    state.form = null;
    state.selected = a.case_id;
    state.flash = null;
    split.showDetail(a.case_id);
    await refresh();
    flash(a.case_id, 'ok', DONE[action]);
    return true;
  }

  async function select(caseId, form = null) {
    state.selected = caseId;
    state.form = form;
    for (const row of tbody.children) row.classList.toggle('selected', row.dataset.caseId === caseId);
    split.showDetail(caseId);
    await loadDetail(caseId);
  }

  async function loadDetail(caseId, { quiet = false } = {}) {
    if (!quiet) fill(detail, h('p', { class: 'empty' }, TEXT.loading));
    let c;
    try {
      c = await dispatch('GET', `/v1/cases/${q(caseId)}`);
    } catch (err) {
      if (state.selected !== caseId) return;
      fill(detail, h('p', { class: 'notice error detail-notice', role: 'alert' }, err.message));
      return;
    }
    if (state.selected !== caseId) return;
    renderDetail(c);
  }

  function current(c) {
    const mine = c.assignments || [];
    return mine.find((a) => OPEN.includes(a.status)) || mine[mine.length - 1] || null;
  }

  function renderDetail(c) {
    const a = current(c);
    const line = h('p', { class: 'notice detail-notice', hidden: true });
    const f = state.flash;
    if (f && f.caseId === c.id && f.until > Date.now()) notice(line, f.kind, f.text);
    const formBox = h('div', { class: 'form-box' });
    const show = (name) => {
      state.form = name;
      state.flash = null;
      line.hidden = true;
      fill(formBox, a ? actionForm(name, a) : null);
      const first = formBox.querySelector('textarea, input, select');
      if (first) first.focus();
    };
    const buttons = [];
    if (a && OPEN.includes(a.status)) {
      const b = (text, fn, cls = '') => buttons.push(h('button', { type: 'button', class: cls, onclick: fn }, text));
      if (a.status === 'dispatched') b('签收', () => run(a, 'sign-in', undefined, 'detail'), 'primary');
      if (a.status === 'signed_in') b('到场', () => run(a, 'arrive', undefined, 'detail'), 'primary');
      if (a.status === 'on_site') b('办结', () => show('resolve'), 'primary');
      if (a.status !== 'dispatched') b('进展', () => show('progress'));
      if (a.status !== 'dispatched') b('延期', () => show('extensions'));
      b('退单', () => show('return'), 'danger');
    }
    fill(
      detail,
      caseHeader(c),
      stages(c.timeline || []),
      line,
      a &&
        h(
          'section',
          { class: 'mine' },
          h(
            'p',
            {},
            h('strong', {}, '本单位：'),
            label(ASSIGNMENT_STATUSES, a.status),
            a.clock ? `，${label(CLOCKS, a.clock)}时限 ${when(a[DUE[a.clock]])}` : '',
          ),
          a.action_taken &&
            h(
              'p',
              { class: 'muted' },
              `处置情况：${a.action_taken}`,
              a.measured_temp_c !== null ? `；实测室温 ${a.measured_temp_c}°C` : '',
            ),
          h('div', { class: 'actions' }, buttons),
          formBox,
        ),
      h('h4', {}, TEXT.assignments),
      assignmentsTable(c.assignments || []),
      casePhotos(c),
      (c.extensions || []).length ? [h('h4', {}, TEXT.extensions), extensionsList(c.extensions)] : null,
      h('h4', {}, TEXT.timeline),
      timelineList(c.timeline || []),
    );
    if (state.form && a && OPEN.includes(a.status)) show(state.form);
    else state.form = null;
  }

  function actionForm(name, a) {
    const message = h('p', { class: 'notice form-notice', hidden: true });
    const close = () => {
      state.form = null;
      loadDetail(a.case_id, { quiet: true });
    };
    const field = (text, input) => h('label', { class: 'field' }, h('span', {}, text), input);
    let title;
    let fields;
    let body;
    if (name === 'progress') {
      const note = h('textarea', { name: 'note', rows: 3, maxlength: 2000 });
      title = '填写办理进展';
      fields = [field('进展说明', note)];
      body = () => ({ note: note.value.trim() });
    } else if (name === 'resolve') {
      const action = h('textarea', { name: 'action_taken', rows: 3, maxlength: 2000 });
      const temp = h('input', { type: 'number', name: 'measured_temp_c', step: '0.1', inputmode: 'decimal' });
      const photos = h('input', { type: 'file', name: 'photo', accept: 'image/jpeg,image/png,image/webp', multiple: true });
      title = '办结';
      fields = [field('处置情况', action), field('实测室温（°C）', temp), field('现场照片', photos)];
      // The photos go to S3 first (each through a grant of dispatch); the 办结 then names them.
      body = async () => ({
        action_taken: action.value.trim(),
        measured_temp_c: temp.value === '' ? null : Number(temp.value),
        photo_refs: await Promise.all([...photos.files].slice(0, 10).map(uploadPhoto)),
      });
    } else if (name === 'return') {
      const reason = h(
        'select',
        { name: 'reason' },
        Object.entries(RETURN_REASONS).map(([code, text]) => h('option', { value: code }, text)),
      );
      const note = h('textarea', { name: 'note', rows: 2, maxlength: 1000 });
      title = '退单';
      fields = [field('退单原因', reason), field('说明', note)];
      body = () => ({ reason: reason.value, note: note.value.trim() || null });
    } else {
      const due = h('input', { type: 'datetime-local', name: 'resolve_due' });
      const reason = h('textarea', { name: 'reason', rows: 2, maxlength: 1000 });
      title = `申请延期（当前办结时限 ${when(a.resolve_due)}）`;
      fields = [field('延期至', due), field('延期原因', reason)];
      body = () => ({ resolve_due: isoFromLocal(due.value), reason: reason.value.trim() });
    }
    return h(
      'form',
      {
        class: `action-form form-${name}`,
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const submit = e.target.querySelector('button[type=submit]');
          submit.disabled = true;
          clearNotice(message);
          try {
            await run(a, name, await body(), message);
          } catch (err) {
            notice(message, 'error', err.message); // a photo that could not be uploaded
          }
          submit.disabled = false;
        },
      },
      h('h4', {}, title),
      fields,
      message,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, TEXT.submit),
        h('button', { type: 'button', onclick: close }, TEXT.cancel),
      ),
    );
  }

  const timer = setInterval(tick, 1000);
  refresh();
  return {
    refresh,
    destroy() {
      clearInterval(timer);
    },
  };
}
