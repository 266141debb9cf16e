import { byId, h, replaceChildren } from './dom.js';
import type { Snapshot } from './snapshot.js';

/** Seats in use per license and feature, as bars that move with every snapshot. */
export function renderUsage(snapshot: Snapshot): void {
  const items = snapshot.usage.map((u) => {
    const share = u.seats === 0 ? 0 : Math.min(1, u.inUse / u.seats);
    const fill = h('div', { class: share >= 1 ? 'fill full' : 'fill' });
    // CSSOM, not a style attribute: the page's CSP forbids inline styles.
    fill.style.width = `${(share * 100).toFixed(1)}%`;
    return h(
      'li',
      { 'data-usage': `${u.license}/${u.feature}`, 'data-in-use': u.inUse, 'data-seats': u.seats },
      h('span', { class: 'label' }, h('strong', {}, u.feature), ` · ${u.license}`),
      h(
        'div',
        {
          class: 'bar',
          role: 'meter',
          'aria-valuemin': 0,
          'aria-valuemax': u.seats,
          'aria-valuenow': u.inUse,
          'aria-label': `${u.feature} seats in use`,
        },
        fill,
      ),
      h('span', { class: 'count' }, `${u.inUse} / ${u.seats}`),
    );
  });
  replaceChildren(
    byId('usage-list'),
    items.length > 0 ? items : [h('li', { class: 'empty' }, 'no license installed')],
  );
}

/** Changes whenever any seat count changes: the leases table refreshes on it. */
export function usageSignature(snapshot: Snapshot): string {
  return snapshot.usage.map((u) => `${u.license}/${u.feature}=${u.inUse}`).join(',');
}
