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
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code || '';
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
    const err = new ApiError(r.status, describe(r.status, data), data && data.detail && data.detail.code);
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
