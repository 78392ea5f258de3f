// The registry's units by id (GET /v1/units, read once after sign-in): the API's answers name a unit by its id,
// the console shows its name. Until the list is read, or if it cannot be, the id is shown.

import { dispatch } from './api.js';

let names = new Map();

export async function loadUnits() {
  try {
    const units = await dispatch('GET', '/v1/units');
    names = new Map(units.map((u) => [u.id, u.name]));
  } catch {
    names = new Map();
  }
}

// A unit's name; anything that is not a unit's id (a role, a task force's or district's own id) as it is.
export function unitName(id) {
  if (id === null || id === undefined || id === '') return '—';
  return names.get(id) || String(id);
}
