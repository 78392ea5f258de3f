// Every text the field app shows, in one place (Chinese for the people who read it; codes stay as the API sends).

export const TEXT = {
  title: '供暖现场',
  subtitle: '网格吹哨、部门报到',
  username: '用户名',
  password: '密码',
  signIn: '登录',
  signOut: '退出',
  signingIn: '正在登录…',
  sessionExpired: '登录已过期，请重新登录（待发送的内容已保存在本机）',
  wrongRole: '该账号不使用现场应用，请使用调度台',
  network: '网络异常，无法连接服务',
  offline: '离线',
  offlineData: '离线数据',
  updatedAt: '更新于',
  queued: '已保存到本机，有网络时自动发送',
  sent: '已发送',
  loading: '加载中…',
  refresh: '刷新',
  submit: '提交',
  cancel: '取消',
  back: '返回',
  outbox: '待发送',
  sendNow: '立即发送',
  fix: '修改',
  discard: '放弃',
  refused: '被退回',
  held: '等待前一项处理',
  sending: '发送中',
  waiting: '等待网络',
  emptyOutbox: '没有待发送的内容',
  noVisits: '暂无回访任务',
  noAssignments: '暂无派单',
  noHouseholds: '本网格暂无住户数据',
  photos: '照片',
  addPhoto: '拍照 / 选择照片',
  photoThermometer: '温度计照片',
  shrinking: '正在压缩照片…',
};

export const ROLES = { unit: '责任单位现场人员', grid_worker: '网格员' };

// One-tap categories, the most common first (shared.contracts' Category codes).
export const CATEGORIES = {
  cold_room: '暖气不热',
  leak: '跑冒滴漏',
  burst_pipe: '爆管',
  outage: '停暖',
  ice_hazard: '漏水挂冰',
  air_lock: '需排气',
  clogged_filter: '滤网堵塞',
  underfloor_imbalance: '地暖失衡',
  metering_retrofit: '分户改造',
  fee_dispute: '费用纠纷',
  subsidy_question: '补贴政策咨询',
  other: '其他',
};

export const PRIORITIES = { emergency: '紧急', urgent: '加急', normal: '普通' };

// 影响 N 户: the distinct households of the case's incident (a report naming no household, e.g. a building's sensor,
// adds none). Shown from two households on, where it tells a one-flat problem from a building's.
export function householdsText(n) {
  return n > 1 ? `影响 ${n} 户` : null;
}

export const ASSIGNMENT_STATUSES = {
  dispatched: '待签收',
  signed_in: '已签收',
  on_site: '已到场',
  resolved: '已办结',
  returned: '已退单',
  withdrawn: '已撤回',
};

export const CLOCKS = { sign_in: '签收', on_site: '到场', resolve: '办结' };

export const ESCALATIONS = { reminder: '催办', notice: '通报', supervision: '督办' };

export const RETURN_REASONS = {
  not_our_area: '非本单位辖区',
  not_our_equipment: '非本单位设施',
  resident_absent: '居民不在家',
  duplicate: '重复派单',
  other: '其他原因',
};

export const SATISFACTION = { satisfied: '满意', mostly: '基本满意', dissatisfied: '不满意' };

// What each queued action is called in the outbox.
export const ACTIONS = {
  grid_report: '一键上报',
  ledger: '访民问暖',
  return_visit: '回访',
  'sign-in': '签收',
  arrive: '到场',
  progress: '进展',
  resolve: '办结',
  return: '退单',
  extensions: '延期申请',
};

// Names of request fields, for validation errors ("实测室温：数值过大").
export const FIELDS = {
  username: '用户名',
  password: '密码',
  description: '情况说明',
  measured_temp_c: '实测室温',
  room_temps_c: '各房间室温',
  satisfaction: '满意度',
  residents_reached: '见到居民人数',
  photo_refs: '照片',
  notes: '回访记录',
  action_taken: '处置情况',
  note: '说明',
  reason: '原因',
  resolve_due: '延期至',
  household_id: '住户',
  building_id: '楼栋',
  category: '类别',
};

export const HTTP_STATUS = {
  400: '请求有误',
  401: '未登录或令牌无效',
  403: '无权执行此操作',
  404: '未找到',
  409: '操作与当前状态冲突',
  413: '内容过大',
  422: '输入不合法',
  429: '操作过于频繁，请稍后再试',
  500: '服务内部错误，稍后自动重试',
  502: '服务暂不可用，稍后自动重试',
  503: '服务暂不可用，稍后自动重试',
};

export function label(map, code) {
  if (code === null || code === undefined || code === '') return '—';
  return Object.hasOwn(map, code) ? map[code] : String(code);
}
