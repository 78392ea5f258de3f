// Tabs over a view's parts: each part built when first opened, the open one re-read on opening and, unless it
// says it has nothing to do with cases (live: false), when the live stream says something changed.

import { fill, h } from './dom.js';

// tabs: [[key, text, build(panel) → { refresh, destroy?, live? }], …]; the first one opens.
export function tabbedView(root, tabs) {
  const panels = {};
  const buttons = tabs.map(([key, text]) => {
    const button = h(
      'button',
      { type: 'button', role: 'tab', class: 'tab', id: `tab-${key}`, 'aria-controls': `panel-${key}` },
      text,
    );
    button.addEventListener('click', () => show(key));
    panels[key] = h('div', { class: 'tab-panel', id: `panel-${key}`, role: 'tabpanel', 'aria-labelledby': `tab-${key}`, hidden: true });
    return button;
  });
  fill(root, h('nav', { class: 'tabs', role: 'tablist' }, buttons), Object.values(panels));

  const builders = Object.fromEntries(tabs.map(([key, , build]) => [key, build]));
  const views = {};
  let active = null;

  function show(key) {
    active = key;
    for (const b of buttons) b.setAttribute('aria-selected', String(b.id === `tab-${key}`));
    for (const [k, p] of Object.entries(panels)) p.hidden = k !== key;
    if (views[key]) views[key].refresh();
    else views[key] = builders[key](panels[key]);
  }

  show(tabs[0][0]);
  return {
    show,
    refresh() {
      const view = views[active];
      if (view && view.live !== false) view.refresh();
    },
    destroy() {
      for (const view of Object.values(views)) if (view.destroy) view.destroy();
    },
  };
}
