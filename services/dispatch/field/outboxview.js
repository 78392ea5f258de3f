// 待发送: everything the phone still has to send, in order; a refused action with the server's reason and
// 修改 / 放弃 (or 重试 for an action without a form); the state of the connection and the next retry.

import { fill, h, when } from './dom.js';
import { ACTIONS, TEXT, label } from './labels.js';
import { discard, drain, items, replace, status } from './outbox.js';
import { FORMS } from './crew.js';

const EDITABLE = ['grid_report', 'ledger', 'return_visit', ...FORMS];

function stateOf(item) {
  if (item.status === 'parked') return 'parked';
  if (item.held) return 'held';
  if (status.sending === item.seq) return 'sending';
  return 'pending';
}

export async function outboxView(root, ctx) {
  const list = await items();
  const waiting = list.filter((i) => i.status !== 'parked').length;
  const refused = list.length - waiting;
  let line = null;
  if (!navigator.onLine) line = h('p', { class: 'notice info' }, '当前离线：恢复网络后按顺序自动发送');
  else if (status.lastError && status.retryAt)
    line = h(
      'p',
      { class: 'notice error', role: 'alert' },
      `${status.lastError}（${Math.max(1, Math.round((status.retryAt - Date.now()) / 1000))} 秒后自动重试）`,
    );
  const row = (item) => {
    const state = stateOf(item);
    const confirmDiscard = h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onclick: async (e) => {
          if (e.target.dataset.armed !== '1') {
            e.target.dataset.armed = '1';
            e.target.textContent = '确认放弃';
            return;
          }
          await discard(item.seq);
          ctx.toast('已放弃');
        },
      },
      TEXT.discard,
    );
    return h(
      'li',
      { class: `item ${state}`, dataset: { seq: item.seq, state, kind: item.kind } },
      h('div', { class: 'item-head' }, h('span', { class: 'kind' }, label(ACTIONS, item.kind)), h('span', { class: 'state' }, {
        parked: TEXT.refused,
        held: TEXT.held,
        sending: TEXT.sending,
        pending: navigator.onLine ? TEXT.outbox : TEXT.waiting,
      }[state])),
      h('div', { class: 'item-title' }, item.title.replace(`${label(ACTIONS, item.kind)} · `, '')),
      h(
        'div',
        { class: 'item-meta' },
        `${when(item.created_at)} 记录`,
        item.photos.length ? ` · 照片 ${item.photos.length} 张` : '',
        item.attempts ? ` · 已尝试 ${item.attempts} 次` : '',
      ),
      state === 'parked'
        ? [
            h('p', { class: 'reason', role: 'alert' }, item.error.message),
            h(
              'div',
              { class: 'actions' },
              EDITABLE.includes(item.kind)
                ? h('a', { class: 'button primary', href: `#/edit/${item.seq}` }, TEXT.fix)
                : h(
                    'button',
                    {
                      type: 'button',
                      class: 'primary',
                      onclick: () => replace(item.seq, { title: item.title, body: item.body, photos: item.photos.map((p) => p.blob) }),
                    },
                    '重试',
                  ),
              confirmDiscard,
            ),
          ]
        : null,
    );
  };
  fill(
    root,
    h('h2', {}, TEXT.outbox, ' ', h('span', { class: 'count' }, `（${waiting}）`), refused ? h('span', { class: 'badge esc' }, `被退回 ${refused}`) : null),
    line,
    list.length ? h('ol', { class: 'outbox' }, list.map(row)) : h('p', { class: 'empty' }, TEXT.emptyOutbox),
    waiting ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: () => drain() }, TEXT.sendNow)) : null,
    h(
      'p',
      { class: 'muted small' },
      '每项操作先保存在本机再发送；网络中断时保留，恢复后按顺序只发送一次。被退回的操作不会自动删除。',
    ),
  );
}
