// The outbox: every action is stored on the phone (IndexedDB) with its idempotency key before anything is sent,
// then sent in order, one at a time, by whichever tab holds the lock. A lost answer is resent with the same key,
// so the server applies it once. No signal, a 5xx or 429: stop and retry later with backoff (Retry-After when the
// server gives one). A refusal (other 4xx): the item is parked with the server's reason for the person to fix or
// discard, later items of the same case or visit wait behind it, and the others go on.

import { ApiError, currentSession, request } from './api.js';
import { outbox } from './db.js';
import { upload } from './photos.js';

const listeners = new Set();
const channel = 'BroadcastChannel' in self ? new BroadcastChannel('heating-field-outbox') : null;
export const status = { sending: null, retryAt: null, lastError: '', failures: 0 };
let running = null;
let timer = null;

export function ownerOf(session) {
  return session ? `${session.role}:${session.sub}` : '';
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function notify(event = {}) {
  for (const fn of listeners) fn(event);
}
if (channel) channel.onmessage = () => notify({ remote: true });
function changed(event) {
  notify(event);
  if (channel) channel.postMessage('changed');
}

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// The current account's items, oldest first, each with `held` when an earlier item of its subject is refused.
export async function items() {
  const owner = ownerOf(currentSession());
  const mine = (await outbox.all()).filter((i) => i.owner === owner).sort((a, b) => a.seq - b.seq);
  const parked = new Set();
  for (const i of mine) {
    i.held = Boolean(i.subject && parked.has(i.subject) && i.status === 'pending');
    if (i.status === 'parked' && i.subject) parked.add(i.subject);
  }
  return mine;
}

// action: { kind, title, subject, service, method, path, body, idem: 'header'|'body', photos: [Blob],
//           photoPath: ['photo_refs'] | ['findings', 0, 'photo_refs'] | null }
export async function enqueue(action) {
  const s = currentSession();
  const item = {
    owner: ownerOf(s),
    kind: action.kind,
    title: action.title,
    subject: action.subject || null,
    service: action.service,
    method: action.method || 'POST',
    path: action.path,
    body: action.body,
    idem: action.idem || 'header',
    key: newKey(),
    photos: (action.photos || []).map((blob) => ({ blob, key: null })),
    photoPath: action.photoPath || null,
    context: action.context || null,
    status: 'pending',
    error: null,
    attempts: 0,
    created_at: new Date().toISOString(),
  };
  item.seq = await outbox.add(item);
  changed({ queued: item });
  drain();
  return item;
}

// 修改: the corrected action takes the refused one's place in the order, with a new key (the refused one was
// never applied). Its photos are uploaded again with fresh grants.
export async function replace(seq, action) {
  const old = await outbox.get(seq);
  if (!old) return enqueue(action);
  Object.assign(old, {
    title: action.title,
    body: action.body,
    photos: (action.photos || []).map((blob) => ({ blob, key: null })),
    key: newKey(),
    status: 'pending',
    error: null,
    attempts: 0,
  });
  await outbox.put(old);
  changed({ replaced: old });
  drain();
  return old;
}

export async function discard(seq) {
  await outbox.delete(seq);
  changed({ discarded: seq });
  drain();
}

function schedule(seconds) {
  clearTimeout(timer);
  status.retryAt = Date.now() + seconds * 1000;
  timer = setTimeout(() => drain(), seconds * 1000);
}

function withPhotos(item) {
  const body = structuredClone(item.body);
  if (item.photoPath) {
    let target = body;
    const path = item.photoPath;
    for (const step of path.slice(0, -1)) target = target[step];
    target[path[path.length - 1]] = item.photos.map((p) => p.key);
  }
  if (item.idem === 'body') body.idempotency_key = item.key;
  return body;
}

async function send(item) {
  for (const photo of item.photos) {
    if (photo.key) continue;
    photo.key = await upload(item.service, photo.blob);
    await outbox.put(item); // an uploaded photo is not uploaded again
  }
  const headerKey = item.idem === 'header' ? item.key : undefined;
  return request(item.service, item.method, item.path, withPhotos(item), { idempotencyKey: headerKey });
}

async function drainLocked() {
  clearTimeout(timer);
  status.retryAt = null;
  for (;;) {
    if (!currentSession()) return;
    const next = (await items()).find((i) => i.status === 'pending' && !i.held);
    if (!next) {
      status.failures = 0;
      status.lastError = '';
      notify();
      return;
    }
    if (!navigator.onLine) {
      status.lastError = '';
      notify();
      return; // the 'online' event drains again
    }
    status.sending = next.seq;
    notify();
    let result;
    try {
      result = await send(next);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(0, String((e && e.message) || e), 'client');
      status.sending = null;
      if (err.retry || err.status === 401) {
        next.attempts += 1;
        await outbox.put(next);
        status.failures += 1;
        status.lastError = err.message;
        if (err.status !== 401) schedule(err.retryAfter || Math.min(60, 2 ** Math.min(status.failures, 6)));
        notify();
        return;
      }
      next.status = 'parked';
      next.error = { status: err.status, code: err.code, message: err.message };
      if (['photo_not_found', 'upload_expired'].includes(err.code)) for (const p of next.photos) p.key = null;
      await outbox.put(next);
      changed({ parked: next });
      continue;
    }
    await outbox.delete(next.seq);
    status.sending = null;
    status.failures = 0;
    status.lastError = '';
    changed({ delivered: next, result });
  }
}

// Send what can be sent; one drain at a time across every tab of the app (Web Locks).
export function drain() {
  if (running) return running;
  const go = navigator.locks
    ? navigator.locks.request('heating-field-outbox', { ifAvailable: true }, (lock) => (lock ? drainLocked() : null))
    : drainLocked();
  running = go
    .catch((err) => {
      status.lastError = String((err && err.message) || err);
      schedule(30);
    })
    .finally(() => {
      running = null;
      status.sending = null;
    });
  return running;
}

addEventListener('online', () => drain());
// A safety net: a tab that lost the lock race or missed an event still sends within a minute.
setInterval(() => {
  if (!running && (status.retryAt === null || status.retryAt <= Date.now())) drain();
}, 30_000);
