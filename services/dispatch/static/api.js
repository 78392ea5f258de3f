// Calls to dispatch (same origin) and follow-up (its own origin, CORS), errors turned into plain Chinese.

import { FIELDS, HTTP_STATUS, TEXT, label } from './labels.js';

const KEY = 'heating.console.session';

export function currentSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (!s || !s.token) return null;
    if (s.expires_at && new Date(s.expires_at).getTime() <= Date.now()) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

export function saveSession(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  // detail: the answer's own (a form places each error next to the field it names)
  constructor(status, message, code, detail = null) {
    super(message);
    this.status = status;
    this.code = code || '';
    this.detail = detail;
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

let config = { followup_url: '' };
export async function loadConfig() {
  try {
    const r = await fetch('/console/config.json');
    if (r.ok) config = await r.json();
  } catch {
    // the reports tab says so when it cannot reach follow-up
  }
}

export function describe(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((e) => {
        const field = String(e.field || '').split('.').pop();
        const name = field ? label(FIELDS, field) : '';
        return (name && name !== '—' ? `${name}：` : '') + (e.message || HTTP_STATUS[422]);
      })
      .join('；');
  }
  if (detail && typeof detail === 'object' && detail.message) return detail.message;
  return HTTP_STATUS[status] || `请求失败（${status}）`;
}

async function request(base, method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const s = currentSession();
  if (s) headers.Authorization = `Bearer ${s.token}`;
  let r;
  try {
    r = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, TEXT.network, 'network');
  }
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) {
    const detail = data && data.detail;
    const err = new ApiError(r.status, describe(r.status, data), detail && detail.code, detail);
    if (r.status === 401 && s) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const dispatch = (method, path, body) => request('', method, path, body);
export const followup = (method, path, body) => request(config.followup_url, method, path, body);

export async function login(username, password) {
  let r;
  try {
    r = await fetch('/v1/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username, password }),
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, TEXT.network, 'network');
  }
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, describe(r.status, data), data && data.detail && data.detail.code);
  return data;
}

export const q = (value) => encodeURIComponent(value);

// One photo file to S3 through a grant of dispatch (POST /v1/photos/uploads); resolves to the key the 办结 names.
export async function uploadPhoto(file) {
  const type = ['image/jpeg', 'image/png', 'image/webp'].includes(file.type) ? file.type : 'image/jpeg';
  const grant = await dispatch('POST', '/v1/photos/uploads', { content_type: type });
  if (file.size > grant.max_bytes) throw new ApiError(413, `照片过大（${Math.ceil(file.size / 1048576)} MB）`);
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, value);
  form.append('file', file, 'photo'); // last: S3 reads the fields before the file
  let r;
  try {
    r = await fetch(grant.url, { method: 'POST', body: form, credentials: 'omit' });
  } catch {
    throw new ApiError(0, '照片上传失败：无法连接照片存储', 'network');
  }
  if (!r.ok) throw new ApiError(503, `照片存储暂不可用（${r.status}）`, 'photo_store_unavailable');
  return grant.key;
}
