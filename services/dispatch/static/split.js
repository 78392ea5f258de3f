// A list and one case's detail. Side by side on a desktop; on a phone (up to 760 px wide, the breakpoint of
// console.css) one at a time: tapping a row opens the case in the list's place, 返回列表 goes back to the row.

import { h } from './dom.js';
import { TEXT } from './labels.js';

const PHONE = window.matchMedia('(max-width: 760px)');

export function splitView(listPane, detail, { onBack }) {
  const back = h('button', { type: 'button', class: 'back', onclick: () => showList() }, TEXT.backToList);
  detail.setAttribute('aria-live', 'polite');
  const detailPane = h('section', { class: 'pane detail-pane', 'aria-label': TEXT.caseDetail }, back, detail);
  const element = h('div', { class: 'split' }, listPane, detailPane);
  let shown = null; // the case open in the detail, to come back to its row

  function showDetail(caseId) {
    const opening = !element.classList.contains('open');
    shown = caseId;
    element.classList.add('open');
    if (PHONE.matches && opening) {
      back.focus({ preventScroll: true });
      detailPane.scrollIntoView({ block: 'start' });
    }
  }

  function showList() {
    element.classList.remove('open');
    onBack();
    if (!PHONE.matches || !shown) return;
    const row = [...listPane.querySelectorAll('tr[data-case-id]')].find((r) => r.dataset.caseId === shown);
    if (row) {
      row.scrollIntoView({ block: 'center' });
      row.focus({ preventScroll: true });
    }
  }

  return { element, showDetail, showList };
}
