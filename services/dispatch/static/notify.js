// 通知设置: the unit's own recipients of notifications — its duty groups' robots (企业微信, 钉钉), its duty phones
// (短信) and its own system — as dispatch's /v1/notify/targets shows them (secrets, robot keys and phones masked);
// one set (by channel and name: set again, it is replaced) or removed. Every check is the API's: its 422 is shown
// next to the field it names. What is masked is never shown back, so replacing a target means typing it again.

import { dispatch, q } from './api.js';
import { clearNotice, fill, h, labelCells, notice } from './dom.js';
import { FIELDS, NOTIFY_CHANNELS, NOTIFY_KINDS, TARGET_REASONS, TEXT, label } from './labels.js';

// The config's fields each channel takes (the API's names).
const CONFIG_FIELDS = {
  wecom: ['url', 'mentions'],
  dingtalk: ['url', 'secret', 'mentions'],
  sms: ['phones'],
  webhook: ['url', 'secret'],
};
const URL_LABELS = { wecom: '机器人 Webhook 地址', dingtalk: '机器人 Webhook 地址', webhook: '本单位系统的接收地址' };
const URL_HINTS = {
  wecom: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…',
  dingtalk: 'https://oapi.dingtalk.com/robot/send?access_token=…',
  webhook: 'https://…',
};
const SECRET_LABELS = { dingtalk: '加签密钥（SEC…，可选）', webhook: '签名密钥' };

// Phone numbers as typed: one a line, or separated by commas, 、, semicolons or spaces.
function phoneList(text) {
  return text.split(/[\s,，、;；]+/).filter(Boolean);
}

// 'config.phones[0]' → { key: 'phones', index: 0 }; 'kinds.1' → { key: 'kinds', index: 1 }; 'name' → { key: 'name' }
function fieldOf(path) {
  const parts = String(path || '').split(/[.[\]]+/).filter(Boolean);
  if (parts[0] === 'body') parts.shift();
  if (parts[0] === 'config' && parts.length > 1) parts.shift();
  const index = parts.length > 1 && /^\d+$/.test(parts[1]) ? Number(parts[1]) : null;
  return { key: parts[0] || '', index };
}

// The API's 422s as [{ path, text }], each text in Chinese: a target's check says why in English, in brackets.
function errorsOf(err) {
  const d = err.detail;
  if (Array.isArray(d)) return d.map((e) => ({ path: e.field, text: e.message || err.message }));
  if (!d || typeof d !== 'object' || !d.field) return [];
  if (d.code !== 'invalid_target') return [{ path: d.field, text: d.message }];
  const reason = (/（(.*)）$/.exec(d.message || '') || [])[1] || '';
  const found = TARGET_REASONS.find(([pattern]) => pattern.test(reason));
  return [{ path: d.field, text: found ? found[1] : d.message }];
}

// What a target sends to, as the API shows it; a secret only as being set.
function configLines(t) {
  const c = t.config || {};
  return [
    c.url,
    Array.isArray(c.phones) && c.phones.join('、'),
    Array.isArray(c.mentions) && c.mentions.length && `@ ${c.mentions.join('、')}`,
    c.secret && '密钥已设置',
  ].filter(Boolean);
}

function kindsText(kinds) {
  if (kinds === null || kinds === undefined) return '全部';
  return kinds.length ? kinds.map((k) => label(NOTIFY_KINDS, k)).join('、') : '无';
}

let serial = 0; // ids that tie each input to its label, hint and error

// One input with its label, an optional hint and the place for its error.
function field(key, text, input, hint = '') {
  const id = `notify-${key}-${++serial}`;
  input.id = id;
  const caption = h('label', { for: id }, text);
  const hintLine = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const wrap = h('div', { class: `field f-${key}` }, caption, input, hintLine, error);
  const described = () => [hintLine && hintLine.id, !error.hidden && error.id].filter(Boolean).join(' ');
  const set = () => (described() ? input.setAttribute('aria-describedby', described()) : input.removeAttribute('aria-describedby'));
  set();
  return {
    key,
    wrap,
    input,
    caption,
    show(message) {
      error.textContent = message;
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      set();
    },
    clear() {
      error.textContent = '';
      error.hidden = true;
      input.removeAttribute('aria-invalid');
      set();
    },
  };
}

export function notifySettings(root) {
  const state = { targets: [], loadFailed: false };
  const heading = h('h2', { id: 'notify-heading', tabindex: -1 }, TEXT.notifySettings);
  const listLine = h('p', { class: 'notice', hidden: true });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'grid targets' },
    h('thead', {}, h('tr', {}, ['渠道', '名称', '发送到', '接收', '状态', '操作'].map((t) => h('th', {}, t)))),
    tbody,
  );
  const empty = h('p', { class: 'empty', hidden: true }, '尚未设置通知渠道');

  const channel = h(
    'select',
    { name: 'channel', onchange: () => showChannel() },
    Object.entries(NOTIFY_CHANNELS).map(([code, text]) => h('option', { value: code }, text)),
  );
  const kindBoxes = Object.entries(NOTIFY_KINDS).map(([code, text]) =>
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'kinds', value: code }), text),
  );
  const kindsError = h('p', { class: 'field-error', id: `notify-kinds-error-${++serial}`, hidden: true });
  const kindsSet = h('fieldset', { class: 'kinds' }, h('legend', {}, '只接收（可选，都不选则全部接收）'), kindBoxes, kindsError);
  const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: true });
  const fields = {
    channel: field('channel', '渠道', channel),
    name: field('name', '名称', h('input', { name: 'name', maxlength: 64, placeholder: '如 值班群、夜班手机', autocomplete: 'off' })),
    url: field('url', '地址', h('input', { type: 'url', name: 'url', maxlength: 2000, autocomplete: 'off', spellcheck: 'false' })),
    secret: field('secret', '密钥', h('input', { type: 'password', name: 'secret', maxlength: 200, autocomplete: 'new-password' })),
    mentions: field(
      'mentions',
      '@手机号（可选）',
      h('input', { name: 'mentions', inputmode: 'tel', autocomplete: 'off' }),
      '紧急时在群里 @ 的值班手机号，多个用逗号分隔',
    ),
    phones: field(
      'phones',
      '手机号',
      h('textarea', { name: 'phones', rows: 3, inputmode: 'tel' }),
      '本单位的值班手机号，每行一个（不填居民的号码）',
    ),
    // the kinds and 启用 are no single input: their errors go to the fieldset's line, focus to its first box
    kinds: {
      key: 'kinds',
      wrap: kindsSet,
      input: kindBoxes[0].querySelector('input'),
      show(message) {
        kindsError.textContent = message;
        kindsError.hidden = false;
      },
      clear() {
        kindsError.hidden = true;
      },
    },
  };
  const formTitle = h('h3', { id: 'notify-form-title' }, '添加或替换通知渠道');
  const formLine = h('p', { class: 'notice', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, '保存');
  const form = h(
    'form',
    { class: 'notify-form', novalidate: true, 'aria-labelledby': 'notify-form-title', onsubmit: (e) => save(e) },
    formTitle,
    h('p', { class: 'muted' }, '同一渠道、同一名称再次保存即替换原设置。'),
    Object.values(fields).map((f) => f.wrap),
    h('label', { class: 'check' }, enabled, '启用'),
    formLine,
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => reset() }, '清空')),
  );

  fill(
    root,
    h(
      'section',
      { class: 'notify', 'aria-labelledby': 'notify-heading' },
      h('div', { class: 'toolbar' }, heading, h('button', { type: 'button', onclick: () => load() }, TEXT.refresh)),
      h(
        'p',
        { class: 'muted' },
        '新派单、催办、通报、督办和 12345 催单、补充诉求，除在调度台显示外，还发到这里设置的群机器人、值班手机或本单位系统。',
      ),
      listLine,
      h('div', { class: 'notify-columns' }, h('div', { class: 'pane' }, table, empty), h('div', { class: 'pane' }, form)),
    ),
  );

  function showChannel() {
    const wanted = CONFIG_FIELDS[channel.value];
    for (const key of ['url', 'secret', 'mentions', 'phones']) fields[key].wrap.hidden = !wanted.includes(key);
    fields.url.caption.textContent = URL_LABELS[channel.value] || '地址';
    fields.url.input.placeholder = URL_HINTS[channel.value] || '';
    fields.secret.caption.textContent = SECRET_LABELS[channel.value] || '密钥';
  }

  function clearErrors() {
    for (const f of Object.values(fields)) f.clear();
    clearNotice(formLine);
  }

  function reset() {
    form.reset();
    formTitle.textContent = '添加或替换通知渠道';
    clearErrors();
    showChannel();
  }

  // The body as the API takes it: only the shown fields of the channel, a secret only when typed.
  function body() {
    const value = (key) => fields[key].input.value.trim();
    const config = {};
    for (const key of CONFIG_FIELDS[channel.value]) {
      if (key === 'phones') config.phones = phoneList(value('phones'));
      else if (key === 'mentions') {
        if (value('mentions')) config.mentions = phoneList(value('mentions'));
      } else if (key === 'secret') {
        if (fields.secret.input.value) config.secret = fields.secret.input.value;
      } else config[key] = value(key);
    }
    const kinds = kindBoxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    return { channel: channel.value, name: value('name'), config, kinds: kinds.length ? kinds : null, enabled: enabled.checked };
  }

  async function save(e) {
    e.preventDefault();
    clearErrors();
    const sent = body();
    submit.disabled = true;
    try {
      const t = await dispatch('PUT', '/v1/notify/targets', sent);
      reset();
      await load();
      notice(formLine, 'ok', `已保存：${label(NOTIFY_CHANNELS, t.channel)} · ${t.name}`);
    } catch (err) {
      showErrors(err, sent);
    }
    submit.disabled = false;
  }

  // Each error next to the field it names (a phone by its number), focus to the first; the rest on the form's line.
  function showErrors(err, sent) {
    const placed = new Set();
    const rest = [];
    for (const { path, text } of errorsOf(err)) {
      const { key, index } = fieldOf(path);
      const f = fields[key];
      if (!f || f.wrap.hidden) {
        rest.push(FIELDS[key] ? `${FIELDS[key]}：${text}` : text);
        continue;
      }
      const typed = index !== null && Array.isArray(sent.config[key]) ? sent.config[key][index] : null;
      f.show(typed ? `${typed}：${text}` : text);
      placed.add(f);
    }
    notice(formLine, 'error', rest.length ? rest.join('；') : placed.size ? '未保存，请按标出的提示修改' : err.message);
    const first = Object.values(fields).find((f) => placed.has(f));
    if (first) first.input.focus();
  }

  // 替换: the channel, name, kinds and 启用 as set; the masked parts are typed again.
  function replace(t) {
    reset();
    channel.value = t.channel;
    fields.name.input.value = t.name;
    for (const b of kindBoxes) {
      const input = b.querySelector('input');
      input.checked = Array.isArray(t.kinds) && t.kinds.includes(input.value);
    }
    enabled.checked = t.enabled;
    showChannel();
    formTitle.textContent = `替换「${t.name}」（地址、密钥和号码不回显，请重新填写）`;
    const first = CONFIG_FIELDS[t.channel][0];
    fields[first].input.focus();
  }

  function askDelete(t, cell) {
    const cancel = h('button', { type: 'button', onclick: () => render() }, TEXT.cancel);
    const confirm = h('button', { type: 'button', class: 'danger', onclick: () => remove(t) }, '确认删除');
    fill(cell, h('span', { class: 'confirm' }, '删除后不再发送？'), confirm, cancel);
    confirm.focus();
  }

  async function remove(t) {
    try {
      await dispatch('DELETE', `/v1/notify/targets/${q(t.id)}`);
    } catch (err) {
      notice(listLine, 'error', err.message);
      await load();
      return;
    }
    await load();
    notice(listLine, 'ok', `已删除：${label(NOTIFY_CHANNELS, t.channel)} · ${t.name}`);
    heading.focus();
  }

  function render() {
    empty.hidden = state.targets.length > 0;
    fill(
      tbody,
      state.targets.map((t) => {
        const act = h(
          'td',
          { class: 'act' },
          h('button', { type: 'button', onclick: () => replace(t) }, '替换…'),
          h('button', { type: 'button', class: 'danger', onclick: () => askDelete(t, act) }, '删除'),
        );
        return h(
          'tr',
          { class: `target${t.enabled ? '' : ' disabled'}`, dataset: { targetId: t.id, channel: t.channel } },
          h('td', { class: 'channel' }, label(NOTIFY_CHANNELS, t.channel)),
          h('td', { class: 'name' }, t.name),
          h('td', { class: 'config' }, configLines(t).map((line) => h('div', {}, line))),
          h('td', { class: 'kinds' }, kindsText(t.kinds)),
          h('td', { class: 'status' }, t.enabled ? '启用' : '停用'),
          act,
        );
      }),
    );
    labelCells(table);
  }

  async function load() {
    try {
      state.targets = await dispatch('GET', '/v1/notify/targets');
      if (state.loadFailed) clearNotice(listLine);
      state.loadFailed = false;
      render();
    } catch (err) {
      state.loadFailed = true;
      notice(listLine, 'error', err.message);
    }
  }

  showChannel();
  load();
  // Nothing here changes with the cases: the live stream leaves it alone (a pending 删除 stays pending).
  return { refresh: load, live: false };
}
