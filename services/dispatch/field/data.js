// Reading through the APIs with a copy kept on the phone: what was last read is shown offline, with its age.

import { currentSession, request } from './api.js';
import { cache } from './db.js';
import { ownerOf } from './outbox.js';

// { data, at, fresh } — fresh: read now; otherwise the cached copy from `at` (an error of the server other than
// "no answer" is thrown: the app must not pretend an old list is current when the server refused).
export async function load(service, path, name) {
  const id = `${ownerOf(currentSession())}:${name}`;
  try {
    const data = await request(service, 'GET', path);
    await cache.put(id, data);
    return { data, at: new Date().toISOString(), fresh: true };
  } catch (err) {
    if (!err.retry) throw err;
    const kept = await cache.get(id);
    if (!kept) throw err;
    return { data: kept.data, at: kept.at, fresh: false, error: err };
  }
}

// The cached copy only (a form opened offline, or while the list is being read again).
export async function cached(name) {
  const kept = await cache.get(`${ownerOf(currentSession())}:${name}`);
  return kept ? kept.data : null;
}

export function places() {
  return load('intake', '/v1/places?limit=2000', 'places');
}

const RECENT = 'heating.field.recent.';
export function recentPlaces() {
  try {
    return JSON.parse(localStorage.getItem(RECENT + ownerOf(currentSession())) || '[]');
  } catch {
    return [];
  }
}

export function rememberPlace(place) {
  const key = placeKey(place);
  const list = [key, ...recentPlaces().filter((k) => k !== key)].slice(0, 6);
  localStorage.setItem(RECENT + ownerOf(currentSession()), JSON.stringify(list));
}

export function placeKey(p) {
  return p.household_id || `B:${p.building_id}`;
}

// "粮库家属院 · 1号楼 · 1单元 · 101室" for a household id, from the cached places.
export function labelOf(placesList, householdId, buildingId) {
  const list = placesList || [];
  const hit =
    (householdId && list.find((p) => p.household_id === householdId)) ||
    (buildingId && list.find((p) => p.building_id === buildingId && !p.household_id));
  return hit ? hit.label : null;
}
