// One case as both views show it: header, the 发现→上报→调度→处置→反馈 stages, the timeline with who did what,
// the assignments and the extension requests.

import { dispatch, followup, q } from './api.js';
import { h, labelCells, notice, place, when } from './dom.js';
import {
  ACTORS,
  ASSIGNMENT_STATUSES,
  CASE_STATUSES,
  CATEGORIES,
  CHANNELS,
  CLOCKS,
  ESCALATIONS,
  EVENT_KINDS,
  EXTENSION_STATUSES,
  PRIORITIES,
  REOPEN_REASONS,
  RETURN_REASONS,
  STAGES,
  TEXT,
  TIERS,
  UNIT_TYPES,
  householdsText,
  label,
} from './labels.js';
import { unitName } from './units.js';

// Who did it: a system or a person by role, a unit by its name, anyone else (a task force, a district) by id.
function actor(code) {
  return Object.hasOwn(ACTORS, code) ? ACTORS[code] : unitName(code);
}

const STAGE_OF = Object.fromEntries(STAGES.flatMap((s) => s.kinds.map((k) => [k, s])));

// Escalations that no clock's breach caused.
const ESCALATION_CAUSES = { hurry: '12345催单', hurries: '多次催单', bounces: '多次退单', redo: '多次重办' };

function details(event) {
  const d = event.detail || {};
  const onTime = d.on_time === true ? '按时' : d.on_time === false ? '超时' : null;
  switch (event.kind) {
    case 'reported':
      return [label(CHANNELS, d.channel), d.report_id && `报告 ${d.report_id}`];
    case 'opened':
      return [`分级：${label(TIERS, d.tier)}`, `优先级：${label(PRIORITIES, d.priority)}`];
    case 'grouped':
      return [label(CHANNELS, d.channel), d.report_id && `报告 ${d.report_id}`, `累计影响 ${d.affected_households} 户`];
    case 'priority_raised':
      return [
        `${label(PRIORITIES, d.previous)} → ${label(PRIORITIES, d.priority)}`,
        `影响 ${d.affected_households} 户`,
      ];
    case 'dispatched':
      return [`派往 ${unitName(d.unit_id)}（${label(UNIT_TYPES, d.unit_type)}）`, d.round > 1 && `第${d.round}轮`];
    case 'signed_in':
    case 'arrived':
    case 'unit_resolved':
      return [onTime];
    case 'progress':
      return [d.note];
    case 'returned':
      return [label(RETURN_REASONS, d.reason), d.note, d.bounce_count && `累计退单${d.bounce_count}次`];
    case 'escalated':
      return [
        label(ESCALATIONS, d.level),
        d.clock && (ESCALATION_CAUSES[d.clock] || `${label(CLOCKS, d.clock)}超时`),
        d.unit_id && unitName(d.unit_id),
      ];
    case 'extension_requested':
      return [d.reason];
    case 'extension_decided':
      return [d.approved ? '批准' : '不批准', d.approved && d.resolve_due && `办结时限延至 ${when(d.resolve_due)}`];
    case 'retiered':
      return [`${label(TIERS, d.previous)} → ${label(TIERS, d.tier)}`];
    case 'supplemented':
      return [d.content, d.priority && d.priority !== 'normal' && `优先级：${label(PRIORITIES, d.priority)}`];
    case 'hurried':
      return [`第${d.hurries}次催单`, d.content];
    case 'withdrawn':
      return [d.reason, d.whole ? '案件撤销，派单已撤回' : '其余诉求继续办理'];
    case 'resolved':
      return [d.round && `第${d.round}轮`];
    case 'reopened':
      return [
        label(REOPEN_REASONS, d.reason),
        d.min_temp_c !== null && d.min_temp_c !== undefined && `最低室温 ${d.min_temp_c}°C`,
        d.round && `进入第${d.round}轮`,
      ];
    case 'closed':
      return [d.min_temp_c !== null && d.min_temp_c !== undefined && `最低室温 ${d.min_temp_c}°C`];
    default:
      return [];
  }
}

export function stages(timeline) {
  const reached = new Set(timeline.map((e) => STAGE_OF[e.kind]?.key).filter(Boolean));
  const lastReached = STAGES.filter((s) => reached.has(s.key)).pop();
  return h(
    'ol',
    { class: 'stages' },
    STAGES.map((s) =>
      h(
        'li',
        { class: `stage${reached.has(s.key) ? ' done' : ''}${lastReached === s ? ' current' : ''}` },
        s.label,
      ),
    ),
  );
}

export function timelineList(timeline) {
  if (!timeline.length) return h('p', { class: 'empty' }, '—');
  return h(
    'ol',
    { class: 'timeline' },
    timeline.map((e) => {
      const stage = STAGE_OF[e.kind];
      return h(
        'li',
        { class: `event stage-${stage ? stage.key : 'other'}`, dataset: { kind: e.kind } },
        h('span', { class: 'event-stage' }, stage ? stage.label : '—'),
        h('time', { class: 'event-time', datetime: e.at }, when(e.at)),
        h('span', { class: 'event-kind' }, label(EVENT_KINDS, e.kind)),
        h('span', { class: 'event-actor', title: e.actor }, actor(e.actor)),
        h('span', { class: 'event-detail' }, details(e).filter(Boolean).join('，')),
      );
    }),
  );
}

export function caseHeader(c) {
  const flags = [
    c.overdue && h('span', { class: 'badge over' }, '超时'),
    c.escalation_level && h('span', { class: 'badge esc' }, label(ESCALATIONS, c.escalation_level)),
    c.supervised && h('span', { class: 'badge esc' }, '督办中'),
    c.hurries > 0 && h('span', { class: 'badge esc' }, `催单${c.hurries}次`),
    c.priority !== 'normal' && h('span', { class: `badge p-${c.priority}` }, label(PRIORITIES, c.priority)),
    c.priority_resident && h('span', { class: 'badge resident' }, '重点人群'),
    householdsText(c.affected_households) &&
      h('span', { class: 'badge households' }, householdsText(c.affected_households)),
  ];
  return h(
    'header',
    { class: 'case-head' },
    h('h3', {}, h('span', { class: 'mono' }, c.id), ' ', label(CATEGORIES, c.category)),
    h('div', { class: 'badges' }, flags),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, '状态'),
      h('dd', { class: 'case-status' }, label(CASE_STATUSES, c.status)),
      h('dt', {}, '分级'),
      h('dd', { class: 'case-tier' }, label(TIERS, c.tier)),
      h('dt', {}, '位置'),
      h('dd', {}, place(c.location)),
      h('dt', {}, '影响'),
      h(
        'dd',
        { class: 'case-households' },
        `${c.affected_households} 户 · ${(c.report_ids || []).length} 次上报`,
      ),
      h('dt', {}, '轮次'),
      h('dd', {}, `第${c.round}轮${c.redo_count ? `（重办${c.redo_count}次）` : ''}`),
      h('dt', {}, '受理'),
      h('dd', {}, when(c.opened_at)),
    ),
  );
}

export function assignmentsTable(assignments) {
  if (!assignments.length) return h('p', { class: 'empty' }, '—');
  const table = h(
    'table',
    { class: 'grid compact' },
    h(
      'thead',
      {},
      h('tr', {}, ['单位', '轮次', '状态', '签收时限', '到场时限', '办结时限', '升级'].map((t) => h('th', {}, t))),
    ),
    h(
      'tbody',
      {},
      assignments.map((a) =>
        h(
          'tr',
          { dataset: { assignmentId: a.id } },
          h('td', { title: a.unit_id }, `${unitName(a.unit_id)}（${label(UNIT_TYPES, a.unit_type)}）`),
          h('td', {}, String(a.round)),
          h(
            'td',
            {},
            label(ASSIGNMENT_STATUSES, a.status),
            a.return_reason ? `：${label(RETURN_REASONS, a.return_reason)}` : '',
          ),
          h('td', {}, when(a.sign_in_due)),
          h('td', {}, when(a.on_site_due)),
          h('td', { class: 'resolve-due' }, when(a.resolve_due)),
          h('td', {}, label(ESCALATIONS, a.escalation_level)),
        ),
      ),
    ),
  );
  return labelCells(table);
}

// Photos as thumbnails linking to the photo (short-lived links the API signed for this reader), with when they were
// taken and 时间存疑 when they do not show they were taken during the job; a deleted one says so.
export function photoList(items) {
  return h(
    'ul',
    { class: 'photos' },
    items.map(({ photo, caption }) =>
      h(
        'li',
        { class: `photo${photo.outside_window ? ' flagged' : ''}`, dataset: { key: photo.key } },
        photo.missing
          ? h('span', { class: 'photo-missing' }, '照片已不存在')
          : h(
              'a',
              { href: photo.url, target: '_blank', rel: 'noopener noreferrer' },
              h('img', { src: photo.thumbnail_url, alt: `${caption}照片`, loading: 'lazy' }),
            ),
        h(
          'span',
          { class: 'photo-caption' },
          caption,
          ' · ',
          photo.taken_at ? `拍摄于 ${when(photo.taken_at)}` : '拍摄时间未知',
          photo.outside_window ? h('strong', { class: 'badge flag' }, '时间存疑') : null,
        ),
      ),
    ),
  );
}

// The units' 办结 photos of a case.
export function casePhotos(c) {
  const items = (c.assignments || []).flatMap((a) =>
    (a.photos || []).map((photo) => ({ photo, caption: `${unitName(a.unit_id)} 办结` })),
  );
  return items.length ? [h('h4', {}, '现场照片'), photoList(items)] : null;
}

// The return visits' photos (测温拍照), read from follow-up for whoever oversees the case.
export function visitPhotos(caseId) {
  const box = h('div', { class: 'visit-photos' });
  followup('GET', `/v1/visits?case_id=${q(caseId)}&status=all`)
    .then((visits) => {
      const items = visits.flatMap((v) =>
        (v.photos || []).map((photo) => ({ photo, caption: `第${v.round}轮回访 ${v.place_name || ''}`.trim() })),
      );
      if (items.length) box.replaceChildren(h('h4', {}, '回访照片'), photoList(items));
    })
    .catch(() => box.replaceChildren(h('p', { class: 'notice' }, '回访照片暂时无法读取')));
  return box;
}

// Extension requests; with `decide`, the pending ones get 批准 / 不批准 (the task force's decision).
export function extensionsList(extensions, { decide = false, onDecided = () => {} } = {}) {
  if (!extensions.length) return h('p', { class: 'empty' }, TEXT.noExtensions);
  return h(
    'ul',
    { class: 'extensions' },
    extensions.map((x) => {
      const status = h('span', { class: `ext-status ${x.status}` }, label(EXTENSION_STATUSES, x.status));
      const item = h(
        'li',
        { class: 'extension', dataset: { extensionId: x.id, caseId: x.case_id } },
        h(
          'div',
          { class: 'ext-head' },
          status,
          h('span', { class: 'mono' }, x.case_id),
          h('span', { class: 'ext-unit', title: x.unit_id }, unitName(x.unit_id)),
          h('span', {}, `申请延至 ${when(x.requested_resolve_due)}`),
          h('span', { class: 'muted' }, `申请于 ${when(x.requested_at)}`),
        ),
        h('p', { class: 'ext-reason' }, x.reason),
        x.status !== 'pending' && x.decision_note && h('p', { class: 'muted' }, `审批意见：${x.decision_note}`),
      );
      if (decide && x.status === 'pending') item.append(decisionForm(x, onDecided));
      return item;
    }),
  );
}

function decisionForm(extension, onDecided) {
  const note = h('input', {
    type: 'text',
    name: 'note',
    maxlength: 1000,
    placeholder: TEXT.decisionNote,
    'aria-label': TEXT.decisionNote,
  });
  const message = h('p', { class: 'notice', hidden: true });
  async function decide(approved) {
    try {
      await dispatch('POST', `/v1/extensions/${encodeURIComponent(extension.id)}/decision`, {
        approved,
        note: note.value.trim() || null,
      });
      notice(message, 'ok', approved ? '已批准' : '已不批准');
      onDecided();
    } catch (err) {
      notice(message, 'error', err.message);
    }
  }
  return h(
    'div',
    { class: 'decision' },
    note,
    h('button', { type: 'button', class: 'primary', onclick: () => decide(true) }, TEXT.approve),
    h('button', { type: 'button', class: 'danger', onclick: () => decide(false) }, TEXT.refuse),
    message,
  );
}
