import { byId, formatAge, h, replaceChildren } from './dom.js';
import type { NodeStatus, Snapshot } from './snapshot.js';

/** Snapshots come every second; after three missed ones this page knows nothing current. */
const STALE_AFTER_MS = 3000;

/**
 * Nodes with role, health and heartbeat age. Between snapshots the ages keep counting on this page's
 * monotonic clock, so a node that stops heartbeating turns "down" the moment its age reaches the TTL,
 * not at the next snapshot. When the snapshots themselves stop (the node serving this page died), health
 * turns "unknown" rather than "down": the other nodes may be fine, and their URLs are links to open.
 */
export class NodesPanel {
  #snapshot: Snapshot | undefined;
  #receivedAt = 0;
  #flip: number | undefined;

  update(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
    this.#receivedAt = performance.now();
    this.render();
  }

  render(): void {
    const snapshot = this.#snapshot;
    if (!snapshot) return;
    const elapsed = performance.now() - this.#receivedAt;
    const stale = elapsed > STALE_AFTER_MS;
    const rows = snapshot.nodes.map((node) => this.#row(node, elapsed, snapshot.nodeTtlMs, stale));
    replaceChildren(byId('nodes-body'), rows);
    const up = rows.filter((r) => r.dataset.state === 'up').length;
    const summary = byId('nodes-summary');
    summary.textContent = stale
      ? `no news from ${snapshot.node} for ${formatAge(elapsed)}: it may be down — open another node`
      : `${up} of ${rows.length} healthy · TTL ${formatAge(snapshot.nodeTtlMs)} · store ${snapshot.store}`;
    summary.dataset.healthy = String(up);
    this.#scheduleFlip(snapshot, elapsed, stale);
  }

  /**
   * Re-renders exactly when the next healthy node's heartbeat age reaches the TTL, so "down" shows at
   * that instant rather than up to one display tick later.
   */
  #scheduleFlip(snapshot: Snapshot, elapsed: number, stale: boolean): void {
    if (this.#flip !== undefined) clearTimeout(this.#flip);
    this.#flip = undefined;
    if (stale) return;
    const waits = snapshot.nodes
      .filter((n) => n.healthy)
      .map((n) => snapshot.nodeTtlMs - (n.heartbeatAgeMs + elapsed))
      .filter((ms) => ms > 0);
    if (waits.length > 0) this.#flip = window.setTimeout(() => this.render(), Math.min(...waits) + 1);
  }

  /** Stops the pending re-render (sign-out). */
  dispose(): void {
    if (this.#flip !== undefined) clearTimeout(this.#flip);
    this.#snapshot = undefined;
  }

  #row(node: NodeStatus, elapsed: number, ttlMs: number, stale: boolean): HTMLTableRowElement {
    const age = node.heartbeatAgeMs + elapsed;
    const up = node.healthy && age < ttlMs;
    // Without news, a node last seen healthy is "unknown"; one already down stays down.
    const unknown = stale && node.healthy;
    const state = unknown ? 'unknown' : up ? 'up' : 'down';
    const text = unknown ? 'unknown' : up ? 'healthy' : node.departed ? 'down (left the cluster)' : 'down';
    return h(
      'tr',
      { 'data-node': node.id, 'data-state': state, class: state },
      h('td', {}, node.id, node.self ? h('span', { class: 'badge' }, 'this node') : null),
      // Another node's dashboard is a sign-in away (the token is kept per origin).
      h('td', {}, node.self ? node.url : h('a', { href: `${node.url}/`, rel: 'noreferrer' }, node.url)),
      h('td', {}, state === 'up' ? (node.role ?? '') : '—'),
      h('td', { class: 'state' }, h('span', { class: `dot ${state}` }), text),
      h('td', { class: 'num' }, formatAge(age)),
      h('td', {}, node.version),
    );
  }
}

export function renderStoreMembers(snapshot: Snapshot): void {
  const rows = snapshot.storeMembers.map((m) =>
    h(
      'tr',
      { 'data-member': m.name, class: m.healthy ? 'up' : 'down' },
      h('td', {}, m.name, m.leader ? h('span', { class: 'badge leader' }, 'leader') : null),
      h('td', {}, m.endpoint),
      h(
        'td',
        { class: 'state' },
        h('span', { class: `dot ${m.healthy ? 'up' : 'down'}` }),
        m.healthy ? 'healthy' : 'unreachable',
      ),
      h('td', { class: 'num' }, m.raftTerm ?? ''),
      h(
        'td',
        { class: 'num' },
        m.dbSizeBytes === undefined ? '' : `${(m.dbSizeBytes / 1024).toFixed(0)} KiB`,
      ),
      h('td', { class: 'error' }, m.error ?? ''),
    ),
  );
  replaceChildren(byId('members-body'), rows);
  const leader = snapshot.storeMembers.find((m) => m.leader);
  byId('members-summary').textContent =
    snapshot.storeMembers.length === 0
      ? 'no store members visible'
      : `${snapshot.storeMembers.filter((m) => m.healthy).length} of ${snapshot.storeMembers.length} healthy · leader ${leader?.name ?? 'none'}`;
}
