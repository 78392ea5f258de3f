// Calls to dispatch (same origin), intake and follow-up (their own origins, CORS), errors in plain Chinese.
// A failure says whether to try again later (network, 5xx, 429: `retry`) or whether the server refused (4xx).

import { FIELDS, HTTP_STATUS, TEXT, label } from './labels.js';

const SESSION = 'heating.field.session';
const CONFIG = 'heating.field.config';

// Kept in localStorage, not sessionStorage: the phone must still be signed in to send its queue after the browser
// was closed. The token expires on its own (a working day) and is dropped on 退出 or the first 401.
export function currentSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION) || 'null');
    if (!s || !s.token) return null;
    if (s.expires_at && new Date(s.expires_at).getTime() <= Date.now()) {
      localStorage.removeItem(SESSION);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

export function saveSession(s) {
  localStorage.setItem(SESSION, JSON.stringify(s));
}

export function clearSession() {
  localStorage.removeItem(SESSION);
}

export class ApiError extends Error {
  constructor(status, message, code, retryAfter) {
    super(message);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter || 0; // seconds, from Retry-After
  }

  // Worth sending again unchanged later: no answer, the server's trouble, or too many requests.
  get retry() {
    return this.status === 0 || this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

let config = JSON.parse(localStorage.getItem(CONFIG) || 'null') || { intake_url: '', followup_url: '' };
export async function loadConfig() {
  try {
    const r = await fetch('/field/config.json', { credentials: 'omit' });
    if (r.ok) {
      config = await r.json();
      localStorage.setItem(CONFIG, JSON.stringify(config));
    }
  } catch {
    // offline: the last known addresses (the service worker also keeps the file)
  }
  return config;
}

export function base(service) {
  if (service === 'intake') return config.intake_url || '';
  if (service === 'followup') return config.followup_url || '';
  return '';
}

export function describe(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((e) => {
        const known = String(e.field || '')
          .split('.')
          .reverse()
          .find((p) => Object.hasOwn(FIELDS, p));
        return (known ? `${label(FIELDS, known)}：` : '') + (e.message || HTTP_STATUS[422]);
      })
      .join('；');
  }
  if (detail && typeof detail === 'object' && detail.message) return detail.message;
  return HTTP_STATUS[status] || `请求失败（${status}）`;
}

function retryAfter(r) {
  const v = r.headers.get('Retry-After');
  if (!v) return 0;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, n);
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? 0 : Math.max(0, (t - Date.now()) / 1000);
}

export async function request(service, method, path, body, { idempotencyKey } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  const s = currentSession();
  if (s) headers.Authorization = `Bearer ${s.token}`;
  let r;
  try {
    r = await fetch(base(service) + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
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
    const code = data && data.detail && !Array.isArray(data.detail) ? data.detail.code : '';
    const err = new ApiError(r.status, describe(r.status, data), code, retryAfter(r));
    if (r.status === 401 && s) onUnauthorized(err);
    throw err;
  }
  return data;
}

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
  if (!r.ok) {
    const code = data && data.detail && !Array.isArray(data.detail) ? data.detail.code : '';
    throw new ApiError(r.status, describe(r.status, data), code, retryAfter(r));
  }
  return data;
}

export const q = (value) => encodeURIComponent(value);
