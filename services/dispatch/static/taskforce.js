// The street task force's view: the street's cases (overdue and escalated first, as the API orders them),
// one case's timeline with its extensions and re-tiering, the pending extensions, the day's report, the
// units' scorecards and the 12345 hotline's assessment (from follow-up), and the task force's own assignments.

import { dispatch, followup, q } from './api.js';
import {
  assignmentsTable,
  caseHeader,
  casePhotos,
  extensionsList,
  stages,
  timelineList,
  visitPhotos,
} from './casedetail.js';
import { clearNotice, fill, h, labelCells, notice, number, percent, when } from './dom.js';
import {
  ASSESSMENT_COLUMNS,
  CASE_STATUSES,
  CATEGORIES,
  ESCALATIONS,
  FIGURES,
  PRIORITIES,
  SCORE_COLUMNS,
  TEXT,
  TIERS,
  householdsText,
  label,
} from './labels.js';
import { splitView } from './split.js';
import { unitName } from './units.js';
import { unitView } from './unit.js';

const TABS = [
  ['cases', '辖区案件'],
  ['extensions', '延期审批'],
  ['reports', '日报与考核'],
  ['own', '专班承办'],
];

export function taskForceView(root, { session }) {
  // A district supervises but is no assignee: it has no assignments of its own.
  const tabs = TABS.filter(([key]) => key !== 'own' || session.role === 'task_force');
  const panels = Object.fromEntries(tabs.map(([key]) => [key, h('div', { class: 'tab-panel', hidden: true })]));
  const tabButtons = tabs.map(([key, text]) =>
    h('button', { type: 'button', role: 'tab', class: 'tab', dataset: { tab: key }, onclick: () => show(key) }, text),
  );
  fill(root, h('nav', { class: 'tabs', role: 'tablist' }, tabButtons), Object.values(panels));

  const views = {
    cases: casesTab(panels.cases),
    extensions: extensionsTab(panels.extensions),
    reports: reportsTab(panels.reports, session),
    own: null, // built when first opened
  };
  let active = null;

  function show(key) {
    active = key;
    for (const b of tabButtons) b.setAttribute('aria-selected', String(b.dataset.tab === key));
    for (const [k, p] of Object.entries(panels)) p.hidden = k !== key;
    if (key === 'own' && !views.own) views.own = unitView(panels.own, { heading: '本专班承办的派单' });
    else views[key].refresh();
  }

  show('cases');
  return {
    refresh() {
      // The live stream says something in the street changed: the open tab re-reads, the others on opening.
      if (active && views[active]) views[active].refresh();
    },
    destroy() {
      if (views.own) views.own.destroy();
    },
  };
}

function casesTab(root) {
  const state = { cases: [], selected: null };
  const statusSelect = h(
    'select',
    { name: 'status', 'aria-label': '状态', onchange: () => refresh() },
    h('option', { value: 'open' }, '未办结（含待回访）'),
    h('option', { value: 'in_progress' }, '处置中'),
    h('option', { value: 'resolved' }, '已处置·待回访'),
    h('option', { value: 'closed' }, '已办结'),
    h('option', { value: '' }, '全部'),
  );
  const tierSelect = h(
    'select',
    { name: 'tier', 'aria-label': '分级', onchange: () => refresh() },
    h('option', { value: '' }, '全部分级'),
    Object.entries(TIERS).map(([code, text]) => h('option', { value: code }, text)),
  );
  const summary = h('div', { class: 'summary' });
  const tbody = h('tbody');
  const empty = h('p', { class: 'empty', hidden: true }, TEXT.noCases);
  const listNotice = h('p', { class: 'notice', hidden: true });
  const detail = h('div', { class: 'detail-body' }, h('p', { class: 'empty' }, TEXT.pickOne));
  const table = h(
    'table',
    { class: 'grid cases' },
    h('thead', {}, h('tr', {}, ['标记', '案件', '分级', '状态', '优先', '轮次', '受理时间'].map((t) => h('th', {}, t)))),
    tbody,
  );
  const split = splitView(h('div', { class: 'pane list-pane' }, table, empty), detail, {
    onBack: () => {
      state.selected = null;
      for (const row of tbody.children) row.classList.remove('selected');
      fill(detail, h('p', { class: 'empty' }, TEXT.pickOne));
    },
  });

  fill(
    root,
    h(
      'section',
      { class: 'toolbar' },
      h('h2', {}, '辖区案件'),
      h('label', { class: 'inline' }, '状态 ', statusSelect),
      h('label', { class: 'inline' }, '分级 ', tierSelect),
      h('button', { type: 'button', onclick: () => refresh() }, TEXT.refresh),
    ),
    summary,
    listNotice,
    split.element,
  );

  // How many cases per tier and status, from the list as loaded.
  function renderSummary() {
    const counts = new Map();
    for (const c of state.cases) {
      const key = `${label(TIERS, c.tier)} · ${label(CASE_STATUSES, c.status)}`;
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    const overdue = state.cases.filter((c) => c.overdue).length;
    const escalated = state.cases.filter((c) => c.escalation_level).length;
    fill(
      summary,
      h('span', { class: 'chip over' }, `超时 ${overdue}`),
      h('span', { class: 'chip esc' }, `已升级 ${escalated}`),
      [...counts.entries()].map(([k, n]) => h('span', { class: 'chip' }, `${k} ${n}`)),
    );
  }

  function renderList() {
    empty.hidden = state.cases.length > 0;
    fill(
      tbody,
      state.cases.map((c) =>
        h(
          'tr',
          {
            class: `row${c.overdue ? ' t-over' : c.escalation_level ? ' t-near' : ''}${state.selected === c.id ? ' selected' : ''}`,
            dataset: { caseId: c.id },
            tabindex: 0,
            onclick: () => select(c.id),
            onkeydown: (e) => {
              if (e.key === 'Enter') select(c.id);
            },
          },
          h(
            'td',
            { class: 'flags' },
            h(
              'div',
              { class: 'badges' },
              c.overdue && h('span', { class: 'badge over' }, '超时'),
              c.escalation_level && h('span', { class: 'badge esc' }, label(ESCALATIONS, c.escalation_level)),
              c.supervised && h('span', { class: 'badge esc' }, '督办中'),
              householdsText(c.affected_households) &&
                h('span', { class: 'badge households' }, householdsText(c.affected_households)),
            ),
          ),
          h('td', { class: 'case' }, h('div', { class: 'mono' }, c.id), h('div', {}, label(CATEGORIES, c.category))),
          h('td', {}, label(TIERS, c.tier)),
          h('td', {}, label(CASE_STATUSES, c.status)),
          h(
            'td',
            {},
            label(PRIORITIES, c.priority),
            c.priority_resident ? h('span', { class: 'badge resident' }, '重点人群') : null,
          ),
          h('td', {}, String(c.round)),
          h('td', {}, when(c.opened_at)),
        ),
      ),
    );
    labelCells(table);
  }

  async function refresh() {
    const params = new URLSearchParams({ status: statusSelect.value });
    if (tierSelect.value) params.set('tier', tierSelect.value);
    try {
      state.cases = await dispatch('GET', `/v1/cases?${params}`);
      clearNotice(listNotice);
      renderSummary();
      renderList();
    } catch (err) {
      notice(listNotice, 'error', err.message);
    }
    if (state.selected) await loadDetail(state.selected, { quiet: true });
  }

  async function select(id) {
    state.selected = id;
    for (const row of tbody.children) row.classList.toggle('selected', row.dataset.caseId === id);
    split.showDetail(id);
    await loadDetail(id);
  }

  async function loadDetail(id, { quiet = false } = {}) {
    if (!quiet) fill(detail, h('p', { class: 'empty' }, TEXT.loading));
    try {
      const c = await dispatch('GET', `/v1/cases/${q(id)}`);
      if (state.selected === id) renderDetail(c);
    } catch (err) {
      if (state.selected === id) fill(detail, h('p', { class: 'notice error', role: 'alert' }, err.message));
    }
  }

  function renderDetail(c) {
    const line = h('p', { class: 'notice detail-notice', hidden: true });
    const tier = h(
      'select',
      { name: 'tier', 'aria-label': '新分级' },
      Object.entries(TIERS).map(([code, text]) => h('option', { value: code, selected: code === c.tier }, text)),
    );
    const retier = h(
      'form',
      {
        class: 'retier',
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            await dispatch('POST', `/v1/cases/${q(c.id)}/tier`, { tier: tier.value });
            await refresh();
            const again = detail.querySelector('.detail-notice');
            if (again) notice(again, 'ok', `已调整为${label(TIERS, tier.value)}，案件已重新派单`);
          } catch (err) {
            notice(line, 'error', err.message);
          }
        },
      },
      tier,
      h('button', { type: 'submit' }, TEXT.retier),
    );
    fill(
      detail,
      caseHeader(c),
      stages(c.timeline || []),
      line,
      retier,
      h('h4', {}, TEXT.timeline),
      timelineList(c.timeline || []),
      h('h4', {}, TEXT.assignments),
      assignmentsTable(c.assignments || []),
      casePhotos(c),
      visitPhotos(c.id),
      h('h4', {}, TEXT.extensions),
      extensionsList(c.extensions || [], { decide: true, onDecided: () => refresh() }),
    );
  }

  return { refresh };
}

function extensionsTab(root) {
  const list = h('div');
  const line = h('p', { class: 'notice', hidden: true });
  fill(
    root,
    h(
      'section',
      { class: 'toolbar' },
      h('h2', {}, '待审批的延期申请'),
      h('button', { type: 'button', onclick: () => refresh() }, TEXT.refresh),
    ),
    line,
    list,
  );
  async function refresh() {
    try {
      const pending = await dispatch('GET', '/v1/extensions?status=pending');
      clearNotice(line);
      fill(list, extensionsList(pending, { decide: true, onDecided: () => setTimeout(refresh, 800) }));
    } catch (err) {
      notice(line, 'error', err.message);
    }
  }
  return { refresh };
}

function reportsTab(root, session) {
  const daily = h('div', { class: 'report' });
  const scores = h('div', { class: 'scores' });
  const assess = h('div', { class: 'scores assessment' });
  // A task force reads its own street's report; a district names the street it wants.
  const street = h('input', {
    type: 'search',
    name: 'street_id',
    maxlength: 64,
    placeholder: '街道编号，如 S-JYG',
    'aria-label': '街道编号',
  });
  fill(
    root,
    h(
      'section',
      { class: 'toolbar' },
      h('h2', {}, '日报与考核'),
      session.role === 'task_force' ? null : street,
      h('button', { type: 'button', onclick: () => refresh() }, TEXT.refresh),
    ),
    h(
      'div',
      { class: 'columns' },
      h('section', { class: 'pane' }, daily),
      h('section', { class: 'pane' }, scores, assess),
    ),
  );

  async function loadDaily() {
    const area = session.role === 'task_force' ? session.scope : street.value.trim();
    if (!area) {
      fill(daily, h('h3', {}, TEXT.dailyReport), h('p', { class: 'empty' }, '请输入街道编号后点击刷新'));
      return;
    }
    const params = `?street_id=${q(area)}`;
    try {
      const r = await followup('GET', `/v1/reports/daily${params}`);
      fill(
        daily,
        h('h3', {}, `${r.area_name} ${TEXT.dailyReport}`),
        h('pre', { class: 'report-text' }, r.text),
        h(
          'dl',
          { class: 'figures' },
          FIGURES.map(([key, text]) => {
            const v = r.figures[key];
            let shown = v;
            if (key === 'satisfaction_rate') shown = percent(v);
            else if (key === 'mean_temp_c') shown = v === null ? '—' : `${number(v)}°C`;
            return [h('dt', {}, text), h('dd', {}, shown === null || shown === undefined ? '—' : String(shown))];
          }),
        ),
      );
    } catch (err) {
      fill(daily, h('h3', {}, TEXT.dailyReport), h('p', { class: 'notice error', role: 'alert' }, err.message));
    }
  }

  async function loadScores() {
    try {
      const r = await followup('GET', '/v1/scorecards');
      const cell = (key, v) => {
        if (key === 'key') return h('td', { title: v }, unitName(v));
        if (key.endsWith('_rate') || key === 'temperature_compliance') return h('td', {}, percent(v));
        if (key === 'score') return h('td', {}, number(v));
        return h('td', {}, v === null || v === undefined ? '—' : String(v));
      };
      const table = h(
        'table',
        { class: 'grid compact scorecard' },
        h('thead', {}, h('tr', {}, SCORE_COLUMNS.map(([, text]) => h('th', {}, text)))),
        h(
          'tbody',
          {},
          r.lines.map((line) =>
            h('tr', { dataset: { unit: line.key } }, SCORE_COLUMNS.map(([key]) => cell(key, line[key]))),
          ),
        ),
      );
      fill(
        scores,
        h('h3', {}, `${TEXT.scorecards}（${r.start} 至 ${r.end}）`),
        r.lines.length ? labelCells(table) : h('p', { class: 'empty' }, '本期暂无考核数据'),
      );
    } catch (err) {
      fill(scores, h('h3', {}, TEXT.scorecards), h('p', { class: 'notice error', role: 'alert' }, err.message));
    }
  }

  // 响应率 / 解决率 / 满意率 weighted into 综合得分, as 12345 platforms assess units; the formulas come with the answer.
  async function loadAssessment() {
    try {
      const r = await followup('GET', '/v1/assessment');
      const cell = (key, v) => {
        if (key === 'key') return h('td', { title: v }, unitName(v));
        if (key.endsWith('_rate')) return h('td', {}, percent(v));
        if (key === 'composite') return h('td', {}, number(v));
        return h('td', {}, v === null || v === undefined ? '—' : String(v));
      };
      const table = h(
        'table',
        { class: 'grid compact assessment' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ASSESSMENT_COLUMNS.map(([key, text]) => h('th', { title: r.formulas[key] || '' }, text)),
          ),
        ),
        h(
          'tbody',
          {},
          r.lines.map((line) =>
            h('tr', { dataset: { unit: line.key } }, ASSESSMENT_COLUMNS.map(([key]) => cell(key, line[key]))),
          ),
        ),
      );
      const w = r.weights;
      const weighting =
        `综合得分：响应率、解决率、满意率按 ${w.response_rate ?? 0} / ${w.resolution_rate ?? 0} / ` +
        `${w.satisfaction_rate ?? 0} 加权折算为百分制；已撤单案件不计入任何单位`;
      fill(
        assess,
        h('h3', {}, `${TEXT.assessment}（${r.start} 至 ${r.end}）`),
        r.lines.length ? labelCells(table) : h('p', { class: 'empty' }, '本期暂无考核数据'),
        h('p', { class: 'muted' }, weighting),
      );
    } catch (err) {
      fill(assess, h('h3', {}, TEXT.assessment), h('p', { class: 'notice error', role: 'alert' }, err.message));
    }
  }

  async function refresh() {
    await Promise.all([loadDaily(), loadScores(), loadAssessment()]);
  }
  return { refresh };
}
