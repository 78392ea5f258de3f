// Finding the place: recent places first, then compound → building → unit → room, or a search by name or room
// number over the grid's places (intake's GET /v1/places, cached for offline use).

import { fill, h } from './dom.js';
import { placeKey, recentPlaces } from './data.js';

const byText = (a, b) => String(a).localeCompare(String(b), 'zh-CN', { numeric: true });

export function placePicker({ places, householdsOnly = false, initial = null, onChange = () => {} }) {
  const all = (places || []).filter((p) => !householdsOnly || p.household_id);
  let chosen = initial;
  let path = []; // [compound, building_id, unit_no]
  const search = h('input', {
    type: 'search',
    name: 'place_q',
    placeholder: '搜索小区、楼号或房号',
    autocomplete: 'off',
    'aria-label': '搜索地点',
    oninput: () => render(),
  });
  const crumbs = h('div', { class: 'crumbs' });
  const list = h('div', { class: 'choices', role: 'group', 'aria-label': '选择地点' });
  const picked = h('div', { class: 'picked' });
  const el = h('div', { class: 'place-picker' }, picked, h('div', { class: 'finder' }, search, crumbs, list));

  const option = (text, onclick, extra = {}) =>
    h('button', { type: 'button', class: `choice ${extra.class || ''}`, onclick, ...extra.attrs }, text);
  const pick = (p) => {
    chosen = p;
    search.value = '';
    path = [];
    onChange(p);
    render();
  };
  const placeOption = (p, text = p.label) =>
    option(text, () => pick(p), { class: 'place', attrs: { 'data-key': placeKey(p) } });

  function render() {
    el.classList.toggle('done', Boolean(chosen));
    fill(
      picked,
      chosen && [
        h('span', { class: 'picked-label' }, chosen.label),
        h('button', { type: 'button', class: 'link', onclick: () => pick(null) }, '更换'),
      ],
    );
    if (chosen) return;
    const text = search.value.trim();
    if (text) {
      fill(crumbs);
      const hits = all.filter((p) => p.label.includes(text) || (p.room && p.room.startsWith(text))).slice(0, 40);
      fill(list, hits.length ? hits.map((p) => placeOption(p)) : h('p', { class: 'empty' }, '没有找到匹配的地点'));
      return;
    }
    const [compound, building, unit] = path;
    fill(
      crumbs,
      option('全部', () => ((path = []), render()), { class: 'crumb' }),
      compound && option(compound, () => ((path = [compound]), render()), { class: 'crumb' }),
      building && option(all.find((p) => p.building_id === building).building, () => ((path = [compound, building]), render()), { class: 'crumb' }),
    );
    if (!compound) {
      const recent = recentPlaces()
        .map((k) => all.find((p) => placeKey(p) === k))
        .filter(Boolean);
      const compounds = [...new Set(all.map((p) => p.compound))].sort(byText);
      fill(
        list,
        recent.length ? [h('p', { class: 'group' }, '最近'), recent.map((p) => placeOption(p))] : null,
        h('p', { class: 'group' }, '小区'),
        compounds.map((c) => option(c, () => ((path = [c]), render()))),
        all.length ? null : h('p', { class: 'empty' }, '暂无本网格地点数据（需联网加载一次）'),
      );
    } else if (!building) {
      const buildings = new Map();
      for (const p of all.filter((x) => x.compound === compound)) buildings.set(p.building_id, p.building);
      fill(
        list,
        [...buildings].sort((a, b) => byText(a[1], b[1])).map(([id, name]) => option(name, () => ((path = [compound, id]), render()))),
      );
    } else if (unit === undefined) {
      const inBuilding = all.filter((p) => p.building_id === building);
      const whole = inBuilding.find((p) => !p.household_id);
      const units = [...new Set(inBuilding.filter((p) => p.household_id).map((p) => p.unit_no || ''))].sort(byText);
      fill(
        list,
        whole && placeOption(whole, '整栋楼'),
        units.map((u) => option(u ? `${u}单元` : '未分单元', () => ((path = [compound, building, u]), render()))),
      );
    } else {
      const rooms = all.filter((p) => p.building_id === building && p.household_id && (p.unit_no || '') === unit);
      rooms.sort((a, b) => byText(a.room, b.room));
      fill(
        list,
        rooms.map((p) =>
          placeOption(p, [`${p.room}室`, p.priority_resident ? h('span', { class: 'badge resident' }, '重点') : null]),
        ),
      );
    }
  }
  render();
  return { el, value: () => chosen };
}
