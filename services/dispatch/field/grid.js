// The grid worker (网格员): today's list (return visits owed, households to visit), 一键上报, 访民问暖 and 回访.
// Every form ends in the outbox; nothing is sent from here directly.

import { q } from './api.js';
import { cached, labelOf, load, places, rememberPlace } from './data.js';
import { decimal, duration, field, fill, h, notice, placeName, today, when } from './dom.js';
import { CATEGORIES, SATISFACTION, TEXT, label } from './labels.js';
import { enqueue, items, replace } from './outbox.js';
import { photoPicker } from './photos.js';
import { placePicker } from './places.js';

function staleLine(result) {
  if (!result || result.fresh) return null;
  return h('p', { class: 'notice info stale' }, `${TEXT.offlineData}，${TEXT.updatedAt} ${when(result.at)}`);
}

async function loadPlaces() {
  try {
    return (await places()).data;
  } catch {
    return (await cached('places')) || [];
  }
}

// The visits already recorded in the outbox (waiting to be sent), by visit id.
async function queuedVisits() {
  return new Set(
    (await items()).filter((i) => i.kind === 'return_visit' && i.status !== 'parked').map((i) => i.subject.slice(6)),
  );
}

export async function todayView(root, ctx) {
  fill(root, h('p', { class: 'empty' }, TEXT.loading));
  const [visitsR, placesList, ledgerR, recorded] = await Promise.all([
    load('followup', '/v1/visits?status=pending', 'return-visits').catch((err) => ({ error: err, data: null })),
    loadPlaces(),
    load('intake', `/v1/visits?day=${today()}`, `ledger-${today()}`).catch(() => ({ data: [] })),
    queuedVisits(),
  ]);
  const now = Date.now();
  const visits = (visitsR.data || []).slice().sort((a, b) => {
    const overA = a.overdue_at || new Date(a.due_at).getTime() < now ? 0 : 1;
    const overB = b.overdue_at || new Date(b.due_at).getTime() < now ? 0 : 1;
    return overA - overB || new Date(a.due_at) - new Date(b.due_at);
  });
  const visitedToday = new Set((ledgerR.data || []).map((v) => v.household_id));
  const households = placesList.filter((p) => p.household_id);
  households.sort(
    (a, b) =>
      visitedToday.has(a.household_id) - visitedToday.has(b.household_id) ||
      b.priority_resident - a.priority_resident ||
      a.label.localeCompare(b.label, 'zh-CN', { numeric: true }),
  );

  const visitCard = (v) => {
    const left = (new Date(v.due_at).getTime() - now) / 1000;
    const over = v.overdue_at || left < 0;
    const done = recorded.has(v.id);
    const where = v.place_name || placeName(v.location, labelOf(placesList, v.household_id, v.building_id));
    return h(
      'a',
      {
        class: `card visit${over ? ' over' : ''}${done ? ' done' : ''}`,
        href: done ? '#/outbox' : `#/visit/${q(v.id)}`,
        dataset: { visitId: v.id, caseId: v.case_id },
      },
      h('div', { class: 'card-title' }, where),
      h(
        'div',
        { class: 'card-meta' },
        h('span', {}, label(CATEGORIES, v.category)),
        v.round > 1 ? h('span', { class: 'badge esc' }, `第${v.round}轮`) : null,
        v.attempts ? h('span', { class: 'badge' }, `未见到居民 ${v.attempts} 次`) : null,
      ),
      h(
        'div',
        { class: 'clock' },
        done ? '已记录 · 待发送' : over ? `已超时 ${duration(left)}` : `剩余 ${duration(left)}`,
      ),
    );
  };

  const householdCard = (p) =>
    h(
      'div',
      { class: `card household${visitedToday.has(p.household_id) ? ' done' : ''}`, dataset: { householdId: p.household_id } },
      h(
        'div',
        { class: 'card-title' },
        p.label,
        p.priority_resident ? h('span', { class: 'badge resident' }, '重点人群') : null,
      ),
      h(
        'div',
        { class: 'card-actions' },
        visitedToday.has(p.household_id) ? h('span', { class: 'muted' }, '今日已走访') : null,
        h('a', { class: 'button small', href: `#/ledger/${q(p.household_id)}` }, '走访'),
        h('a', { class: 'button small', href: `#/report/${q(p.household_id)}` }, '上报'),
      ),
    );

  fill(
    root,
    h(
      'div',
      { class: 'big-actions' },
      h('a', { class: 'button big primary', href: '#/report' }, '一键上报'),
      h('a', { class: 'button big', href: '#/ledger' }, '访民问暖'),
    ),
    staleLine(visitsR),
    h('h2', {}, '回访待办 ', h('span', { class: 'count' }, `（${visits.length}）`)),
    visitsR.error && !visitsR.data ? h('p', { class: 'notice error', role: 'alert' }, visitsR.error.message) : null,
    visits.length ? h('div', { class: 'cards visits' }, visits.map(visitCard)) : h('p', { class: 'empty' }, TEXT.noVisits),
    h(
      'h2',
      {},
      '今日走访 ',
      h('span', { class: 'count' }, `（已走访 ${households.filter((p) => visitedToday.has(p.household_id)).length}/${households.length}）`),
    ),
    households.length
      ? h('div', { class: 'cards households' }, households.map(householdCard))
      : h('p', { class: 'empty' }, TEXT.noHouseholds),
  );
}

// -- shared pieces of the forms ----------------------------------------------------------------------------------

function categoryButtons(initial, onChange) {
  let value = initial || null;
  const buttons = Object.entries(CATEGORIES).map(([code, text]) =>
    h(
      'button',
      {
        type: 'button',
        class: 'cat',
        'aria-pressed': String(code === value),
        dataset: { category: code },
        onclick: () => {
          value = value === code ? null : code;
          for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.category === value));
          onChange(value);
        },
      },
      text,
    ),
  );
  return { el: h('div', { class: 'cats', role: 'group', 'aria-label': '问题类别' }, buttons), value: () => value };
}

function temperatureInput(name, initial) {
  return h('input', {
    type: 'text',
    inputmode: 'decimal',
    name,
    class: 'temp',
    placeholder: '如 16.5',
    autocomplete: 'off',
    value: initial === null || initial === undefined ? '' : String(initial),
  });
}

// A temperature typed on the phone: null when empty, an error text when it is not a plausible indoor reading.
function readTemperature(input, what = '实测室温') {
  const t = decimal(input.value);
  if (t === null) return { value: null };
  if (Number.isNaN(t)) return { error: `${what}：请输入数字，如 16.5` };
  return { value: t };
}

function submitRow(text) {
  return h('div', { class: 'actions sticky' }, h('button', { type: 'submit', class: 'primary big' }, text));
}

function placeFromEdit(body, placesList) {
  if (!body) return null;
  const found = placesList.find((p) =>
    body.household_id ? p.household_id === body.household_id : p.building_id === body.building_id && !p.household_id,
  );
  return found || { household_id: body.household_id || null, building_id: body.building_id || null, label: body.household_id || body.building_id };
}

async function queue(ctx, edit, action, back) {
  if (edit) await replace(edit.seq, action);
  else await enqueue(action);
  ctx.toast(navigator.onLine ? '已提交，正在发送' : TEXT.queued);
  ctx.go(back);
}

function refusedLine(edit) {
  return edit && edit.error ? h('p', { class: 'notice error', role: 'alert' }, `${TEXT.refused}：${edit.error.message}`) : null;
}

// -- 一键上报 --------------------------------------------------------------------------------------------------

export async function reportView(root, ctx, { householdId = null, edit = null } = {}) {
  const placesList = await loadPlaces();
  const body = edit ? edit.body : null;
  const initial = body ? placeFromEdit(body, placesList) : (householdId && placesList.find((p) => p.household_id === householdId)) || null;
  const picker = placePicker({ places: placesList, initial });
  const cats = categoryButtons(body && body.category, () => {});
  const description = h('textarea', {
    name: 'description',
    rows: 3,
    maxlength: 2000,
    placeholder: '补充说明（可选），如：卧室暖气片冰凉',
    value: body ? body.description : '',
  });
  const temp = temperatureInput('measured_temp_c', body && body.measured_temp_c);
  const photos = photoPicker({ initial: edit ? edit.photos.map((p) => p.blob) : [] });
  const line = h('p', { class: 'notice', hidden: true });
  fill(
    root,
    h(
      'form',
      {
        class: 'form report-form',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const place = picker.value();
          const category = cats.value();
          const text = description.value.trim();
          const t = readTemperature(temp);
          if (!place) return notice(line, 'error', '请先选择地点');
          if (!category && !text) return notice(line, 'error', '请选择问题类别或填写说明');
          if (t.error) return notice(line, 'error', t.error);
          const payload = {
            description: text || label(CATEGORIES, category),
            photo_refs: [],
          };
          if (place.household_id) payload.household_id = place.household_id;
          else payload.building_id = place.building_id;
          if (category) payload.category = category;
          if (t.value !== null) payload.measured_temp_c = t.value;
          rememberPlace(place);
          await queue(
            ctx,
            edit,
            {
              kind: 'grid_report',
              title: `一键上报 · ${place.label}${category ? ` · ${label(CATEGORIES, category)}` : ''}`,
              service: 'intake',
              path: '/v1/grid-reports',
              body: payload,
              idem: 'body',
              photos: await photos.blobs(),
              photoPath: ['photo_refs'],
            },
            edit ? '#/outbox' : '#/today',
          );
        },
      },
      h('h2', {}, '一键上报'),
      refusedLine(edit),
      h('div', { class: 'field' }, h('span', { class: 'field-label' }, '地点'), picker.el),
      h('div', { class: 'field' }, h('span', { class: 'field-label' }, '问题类别'), cats.el),
      field('情况说明', description),
      field('实测室温（°C，可选）', temp),
      photos.el,
      line,
      submitRow('上报'),
    ),
  );
}

// -- 访民问暖 入户走访 -------------------------------------------------------------------------------------------

export async function ledgerView(root, ctx, { householdId = null, edit = null } = {}) {
  const placesList = await loadPlaces();
  const body = edit ? edit.body : null;
  const initial = body ? placeFromEdit(body, placesList) : (householdId && placesList.find((p) => p.household_id === householdId)) || null;
  const picker = placePicker({ places: placesList, householdsOnly: true, initial });
  const temp = temperatureInput('measured_temp_c', body && body.measured_temp_c);
  let reached = body ? body.residents_reached : 1;
  const count = h('output', { name: 'residents_reached', 'aria-live': 'polite' }, String(reached));
  const step = (d) => {
    reached = Math.max(0, Math.min(50, reached + d));
    count.textContent = String(reached);
  };
  const finding = body && body.findings && body.findings[0];
  const found = h('input', { type: 'checkbox', name: 'problem', checked: Boolean(finding) });
  const cats = categoryButtons(finding && finding.category, () => {});
  const description = h('textarea', {
    name: 'finding',
    rows: 3,
    maxlength: 2000,
    placeholder: '发现的问题，如：客厅暖气片不热',
    value: finding ? finding.description : '',
  });
  const photos = photoPicker({ initial: edit ? edit.photos.map((p) => p.blob) : [] });
  const problem = h('fieldset', { class: 'problem', hidden: !finding }, h('legend', {}, '发现的问题'), cats.el, description, photos.el);
  found.addEventListener('change', () => (problem.hidden = !found.checked));
  const line = h('p', { class: 'notice', hidden: true });
  fill(
    root,
    h(
      'form',
      {
        class: 'form ledger-form',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const place = picker.value();
          const t = readTemperature(temp);
          if (!place) return notice(line, 'error', '请先选择住户');
          if (t.error) return notice(line, 'error', t.error);
          const payload = { household_id: place.household_id, residents_reached: reached, findings: [] };
          if (t.value !== null) payload.measured_temp_c = t.value;
          let blobs = [];
          if (found.checked) {
            const text = description.value.trim();
            const category = cats.value();
            if (!text && !category) return notice(line, 'error', '请选择问题类别或填写问题说明');
            const f = { description: text || label(CATEGORIES, category), photo_refs: [] };
            if (category) f.category = category;
            payload.findings.push(f);
            blobs = await photos.blobs();
          }
          rememberPlace(place);
          await queue(
            ctx,
            edit,
            {
              kind: 'ledger',
              title: `访民问暖 · ${place.label}${found.checked ? ' · 发现问题' : ''}`,
              service: 'intake',
              path: '/v1/visits',
              body: payload,
              idem: 'body',
              photos: blobs,
              photoPath: blobs.length ? ['findings', 0, 'photo_refs'] : null,
            },
            edit ? '#/outbox' : '#/today',
          );
        },
      },
      h('h2', {}, '访民问暖 · 入户走访'),
      refusedLine(edit),
      h('div', { class: 'field' }, h('span', { class: 'field-label' }, '住户'), picker.el),
      field('实测室温（°C）', temp),
      h(
        'div',
        { class: 'field' },
        h('span', { class: 'field-label' }, '见到居民人数'),
        h(
          'div',
          { class: 'stepper' },
          h('button', { type: 'button', 'aria-label': '减少', onclick: () => step(-1) }, '−'),
          count,
          h('button', { type: 'button', 'aria-label': '增加', onclick: () => step(1) }, '+'),
        ),
      ),
      h('label', { class: 'check' }, found, '发现问题（将作为上报）'),
      problem,
      line,
      submitRow('记入台账'),
    ),
  );
}

// -- 回访 ------------------------------------------------------------------------------------------------------

export async function returnVisitView(root, ctx, { visitId, edit = null }) {
  const id = visitId || (edit && edit.subject.slice(6));
  const [list, placesList] = [(await cached('return-visits')) || [], await loadPlaces()];
  const v = list.find((x) => x.id === id);
  const body = edit ? edit.body : null;
  let reached = body ? body.reached : true;
  let satisfaction = body ? body.satisfaction : null;
  const temps = [0, 1, 2].map((i) =>
    temperatureInput(`room_temp_${i}`, body && body.room_temps_c && body.room_temps_c[i] !== undefined ? body.room_temps_c[i] : null),
  );
  const rooms = ['客厅', '主卧', '次卧'];
  const reachedButtons = [true, false].map((value) =>
    h(
      'button',
      {
        type: 'button',
        class: 'seg',
        'aria-pressed': String(value === reached),
        onclick: () => {
          reached = value;
          for (const [i, b] of reachedButtons.entries()) b.setAttribute('aria-pressed', String([true, false][i] === reached));
          verdict.hidden = !reached;
        },
      },
      value ? '见到居民' : '未见到居民',
    ),
  );
  const satisfactionButtons = Object.entries(SATISFACTION).map(([code, text]) =>
    h(
      'button',
      {
        type: 'button',
        class: `cat sat-${code}`,
        'aria-pressed': String(code === satisfaction),
        dataset: { satisfaction: code },
        onclick: () => {
          satisfaction = code;
          for (const b of satisfactionButtons) b.setAttribute('aria-pressed', String(b.dataset.satisfaction === satisfaction));
        },
      },
      text,
    ),
  );
  const verdict = h(
    'div',
    { class: 'field', hidden: !reached },
    h('span', { class: 'field-label' }, '居民满意度'),
    h('div', { class: 'cats three', role: 'group', 'aria-label': '居民满意度' }, satisfactionButtons),
  );
  const notes = h('textarea', { name: 'notes', rows: 3, maxlength: 2000, placeholder: '回访记录（可选）', value: (body && body.notes) || '' });
  const photos = photoPicker({ label: TEXT.photoThermometer, initial: edit ? edit.photos.map((p) => p.blob) : [] });
  const line = h('p', { class: 'notice', hidden: true });
  const where = v ? v.place_name || placeName(v.location, labelOf(placesList, v.household_id, v.building_id)) : id;
  fill(
    root,
    h(
      'form',
      {
        class: 'form visit-form',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const readings = [];
          for (const [i, input] of temps.entries()) {
            const t = readTemperature(input, `${rooms[i]}室温`);
            if (t.error) return notice(line, 'error', t.error);
            if (t.value !== null) readings.push(t.value);
          }
          if (reached && !readings.length) return notice(line, 'error', '请至少填写一个房间的室温');
          if (reached && !satisfaction) return notice(line, 'error', '请选择居民满意度');
          const blobs = await photos.blobs();
          // Follow-up's rule, as the visit carries it (a district may turn it off): a visit that reached the
          // resident shows the thermometer. Checked here too, so a visit recorded offline is not refused hours later.
          if (reached && !blobs.length && (!v || v.photo_required !== false)) {
            return notice(line, 'error', '请拍摄温度计照片');
          }
          const payload = {
            reached,
            room_temps_c: readings,
            satisfaction: reached ? satisfaction : null,
            notes: notes.value.trim() || null,
            photo_refs: [],
          };
          await queue(
            ctx,
            edit,
            {
              kind: 'return_visit',
              title: `回访 · ${where}`,
              subject: `visit:${id}`,
              service: 'followup',
              path: `/v1/visits/${q(id)}/record`,
              body: payload,
              idem: 'header',
              photos: blobs,
              photoPath: ['photo_refs'],
            },
            edit ? '#/outbox' : '#/today',
          );
        },
      },
      h('h2', {}, '回访'),
      refusedLine(edit),
      h(
        'div',
        { class: 'summary' },
        h('div', { class: 'card-title' }, where),
        v &&
          h(
            'div',
            { class: 'card-meta' },
            h('span', {}, label(CATEGORIES, v.category)),
            h('span', {}, `回访时限 ${when(v.due_at)}`),
            h('span', {}, `达标室温 ${v.standard_c}°C`),
          ),
      ),
      h('div', { class: 'segs', role: 'group', 'aria-label': '是否见到居民' }, reachedButtons),
      h(
        'fieldset',
        { class: 'rooms' },
        h('legend', {}, '各房间实测室温（°C）'),
        temps.map((input, i) => field(rooms[i], input)),
      ),
      verdict,
      field('回访记录', notes),
      photos.el,
      line,
      submitRow('提交回访'),
    ),
  );
}
