// Every text the console shows, in one place (Chinese for the people who read it; codes stay as the API sends).

export const TEXT = {
  title: '供暖诉求调度台',
  subtitle: '网格吹哨、部门报到',
  username: '用户名',
  password: '密码',
  signIn: '登录',
  signOut: '退出',
  signingIn: '正在登录…',
  sessionExpired: '登录已过期，请重新登录',
  network: '网络异常，无法连接服务，请稍后重试',
  live: '实时',
  liveLost: '实时连接中断，正在重试',
  noAssignments: '暂无待办派单',
  noCases: '暂无案件',
  noExtensions: '暂无待审批的延期申请',
  loading: '加载中…',
  pickOne: '点击左侧列表中的一条查看详情',
  backToList: '返回列表',
  caseDetail: '案件详情',
  lookupPlaceholder: '输入案件编号，如 C-…',
  lookup: '查询',
  refresh: '刷新',
  saved: '已提交',
  cancel: '取消',
  submit: '提交',
  approve: '批准',
  refuse: '不批准',
  decisionNote: '审批意见（可选）',
  retier: '调整分级',
  timeline: '办理过程',
  assignments: '派单',
  extensions: '延期申请',
  dailyReport: '日报告',
  scorecards: '责任单位考核',
  assessment: '12345 热线考核',
  figures: '今日数据',
  newArrival: '新派单',
  assignmentsTab: '本单位派单',
  notifySettings: '通知设置',
};

export const ROLES = {
  unit: '责任单位',
  task_force: '街道工作专班',
  grid_worker: '网格员',
  district: '区级督办',
};

export const CATEGORIES = {
  cold_room: '暖气不热',
  leak: '跑冒滴漏',
  burst_pipe: '爆管',
  outage: '停暖',
  clogged_filter: '滤网堵塞',
  air_lock: '需排气',
  underfloor_imbalance: '地暖失衡',
  metering_retrofit: '分户改造',
  fee_dispute: '费用纠纷',
  subsidy_question: '补贴政策咨询',
  ice_hazard: '漏水挂冰',
  other: '其他',
};

export const PRIORITIES = { emergency: '紧急', urgent: '加急', normal: '普通' };

// 影响 N 户: the distinct households of the case's incident (a report naming no household, e.g. a building's sensor,
// adds none). Shown from two households on, where it tells a one-flat problem from a building's.
export function householdsText(n) {
  return n > 1 ? `影响 ${n} 户` : null;
}

export const TIERS = { minor: '小事·网格化解', technical: '技术·吹哨报到', complex: '复杂·专班牵头' };

export const CASE_STATUSES = {
  opened: '已受理',
  assigned: '办理中',
  unrouted: '待分派',
  resolved: '已处置·待回访',
  closed: '已办结',
  withdrawn: '已撤单',
};

export const ASSIGNMENT_STATUSES = {
  dispatched: '待签收',
  signed_in: '已签收',
  on_site: '已到场',
  resolved: '已办结',
  returned: '已退单',
  withdrawn: '已撤回',
};

// The clock that matters now, as the list shows it.
export const CLOCKS = { sign_in: '签收', on_site: '到场', resolve: '办结' };

export const ESCALATIONS = { reminder: '催办', notice: '通报', supervision: '督办' };

export const RETURN_REASONS = {
  not_our_area: '非本单位辖区',
  not_our_equipment: '非本单位设施',
  resident_absent: '居民不在家',
  duplicate: '重复派单',
  other: '其他原因',
};

export const REOPEN_REASONS = {
  too_cold: '室温不达标',
  dissatisfied: '居民不满意',
  both: '室温不达标且居民不满意',
  spot_check_failed: '抽核不合格',
};

export const UNIT_TYPES = {
  heating_company: '供热企业',
  property_manager: '物业',
  housing_bureau: '住建',
  water_company: '供水企业',
  street_task_force: '街道工作专班',
  grid: '网格',
};

export const CHANNELS = {
  grid_report: '网格员一键上报',
  hotline_12345: '12345热线',
  open311: '市民服务平台',
  sensor: '室温采集器',
  visit_ledger: '入户走访',
};

export const ACTORS = {
  dispatch: '调度系统',
  followup: '回访系统',
  grid_worker: '网格员',
  resident: '居民',
  hotline: '12345热线',
  sensor: '室温采集器',
  12345: '12345热线',
};

// 发现 → 上报 → 调度 → 处置 → 反馈: which stage each timeline entry belongs to.
export const STAGES = [
  { key: 'discover', label: '发现', kinds: ['reported', 'grouped'] },
  { key: 'report', label: '上报', kinds: ['opened', 'supplemented', 'hurried'] },
  { key: 'dispatch', label: '调度', kinds: ['dispatched', 'returned', 'retiered', 'escalated', 'priority_raised'] },
  {
    key: 'handle',
    label: '处置',
    kinds: ['signed_in', 'arrived', 'progress', 'unit_resolved', 'extension_requested', 'extension_decided'],
  },
  { key: 'feedback', label: '反馈', kinds: ['resolved', 'reopened', 'closed', 'withdrawn'] },
];

export const EVENT_KINDS = {
  reported: '发现上报',
  opened: '受理立案',
  grouped: '同一事件再报',
  priority_raised: '提高优先级',
  dispatched: '派单',
  returned: '退单',
  retiered: '调整分级',
  escalated: '升级督办',
  signed_in: '签收',
  arrived: '到场',
  progress: '办理进展',
  unit_resolved: '单位办结',
  extension_requested: '申请延期',
  extension_decided: '延期审批',
  resolved: '处置完成·待回访',
  reopened: '发回重办',
  closed: '回访办结',
  supplemented: '补充诉求',
  hurried: '催单（重复诉求）',
  withdrawn: '12345撤单',
};

export const EXTENSION_STATUSES = { pending: '待审批', approved: '已批准', refused: '未批准' };

export const SCORE_COLUMNS = [
  ['rank', '排名'],
  ['key', '单位'],
  ['assignments', '派单'],
  ['on_time_sign_in_rate', '按时签收率'],
  ['on_time_resolve_rate', '按时办结率'],
  ['satisfaction_rate', '满意率'],
  ['temperature_compliance', '室温达标率'],
  ['redo_rate', '重办率'],
  ['returns', '退单'],
  ['escalations', '催督办'],
  ['score', '综合得分'],
];

// The 12345 hotline's assessment (follow-up's GET /v1/assessment): the three weighted rates, their composite and
// the three watched beside them. Keys are the API's field names.
export const ASSESSMENT_COLUMNS = [
  ['rank', '排名'],
  ['key', '单位'],
  ['cases', '案件数'],
  ['response_rate', '响应率'],
  ['resolution_rate', '解决率'],
  ['satisfaction_rate', '满意率'],
  ['composite', '综合得分'],
  ['on_time_sign_in_rate', '按时签收率'],
  ['on_time_resolve_rate', '按时办结率'],
  ['repeat_complaint_rate', '重复诉求率'],
];

export const FIGURES = [
  ['households_visited', '走访户数'],
  ['residents_reached', '走访居民'],
  ['problems_found', '排查问题'],
  ['solved', '已解决'],
  ['open', '在办'],
  ['overdue', '超时未办'],
  ['escalated', '催办督办'],
  ['return_visits', '完成回访'],
  ['satisfaction_rate', '回访满意率'],
  ['mean_temp_c', '平均实测室温'],
];

// 通知设置: a unit's own recipients of notifications (dispatch's /v1/notify/targets).
export const NOTIFY_CHANNELS = {
  wecom: '企业微信群机器人',
  dingtalk: '钉钉群机器人',
  sms: '短信',
  webhook: '单位自有系统',
};

// The kinds a unit's target may take (services/dispatch/notify/kinds.py); the others are not a unit's.
export const NOTIFY_KINDS = {
  assigned: '新派单',
  reminder: '催办',
  notice: '通报',
  supervision: '督办',
  hotline_hurry: '12345催单',
  hotline_supplement: '补充诉求',
};

// The checks of a target say why in English (channels/targets.py): what the person at the screen reads instead.
export const TARGET_REASONS = [
  [/mainland mobile number/, '不是有效的手机号（11 位数字，以 1 开头）'],
  [/non-empty list of mobile/, '请至少填写一个手机号'],
  [/more than \d+ numbers/, '号码过多'],
  [/key query parameter/, '应为企业微信群机器人的 Webhook 地址（含 key=…）'],
  [/access_token query parameter/, '应为钉钉群机器人的 Webhook 地址（含 access_token=…）'],
  [/must be https/, '须为 https 地址'],
  [/http\(s\) URL|not a URL/, '不是有效的网址'],
  [/is required|non-empty string/, '必填'],
  [/longer than/, '内容过长'],
];

// Names of request fields, for validation errors ("处置情况：内容过长").
export const FIELDS = {
  username: '用户名',
  password: '密码',
  action_taken: '处置情况',
  measured_temp_c: '实测室温',
  photo_refs: '照片编号',
  note: '说明',
  reason: '原因',
  resolve_due: '延期至',
  tier: '分级',
  approved: '审批结果',
  name: '名称',
  channel: '渠道',
  kinds: '接收类型',
};

export const HTTP_STATUS = {
  400: '请求有误',
  401: '未登录或令牌无效',
  403: '无权执行此操作',
  404: '未找到',
  409: '操作与当前状态冲突',
  422: '输入不合法',
  429: '操作过于频繁，请稍后再试',
  500: '服务内部错误，请稍后重试',
  502: '服务暂不可用，请稍后重试',
  503: '服务暂不可用，请稍后重试',
};

export function label(map, code) {
  if (code === null || code === undefined || code === '') return '—';
  return Object.hasOwn(map, code) ? map[code] : String(code);
}
