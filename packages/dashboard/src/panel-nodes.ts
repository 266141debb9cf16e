import { byId, formatAge, h, replaceChildren } from './dom.js';
import type { NodeStatus, Snapshot } from './snapshot.js';

/**
 * Nodes with role, health and heartbeat age. Between snapshots the ages keep counting on this page's
 * monotonic clock, so a node that stops heartbeating turns "down" the moment its age reaches the TTL,
 * not at the next snapshot — and a dead stream cannot leave a dead node looking healthy.
 */
export class NodesPanel {
  #snapshot: Snapshot | undefined;
  #receivedAt = 0;

  update(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
    this.#receivedAt = performance.now();
    this.render();
  }

  render(): void {
    const snapshot = this.#snapshot;
    if (!snapshot) return;
    const elapsed = performance.now() - this.#receivedAt;
    const rows = snapshot.nodes.map((node) => this.#row(node, elapsed, snapshot.nodeTtlMs));
    replaceChildren(byId('nodes-body'), rows);
    const up = rows.filter((r) => r.dataset.state === 'up').length;
    const summary = byId('nodes-summary');
    summary.textContent = `${up} of ${rows.length} healthy · TTL ${formatAge(snapshot.nodeTtlMs)} · store ${snapshot.store}`;
    summary.dataset.healthy = String(up);
  }

  #row(node: NodeStatus, elapsed: number, ttlMs: number): HTMLTableRowElement {
    const age = node.heartbeatAgeMs + elapsed;
    const up = node.healthy && age < ttlMs;
    const state = up ? 'healthy' : node.departed ? 'down (left the cluster)' : 'down';
    return h(
      'tr',
      { 'data-node': node.id, 'data-state': up ? 'up' : 'down', class: up ? 'up' : 'down' },
      h('td', {}, node.id, node.self ? h('span', { class: 'badge' }, 'this node') : null),
      h('td', {}, node.url),
      h('td', {}, up ? (node.role ?? '') : '—'),
      h('td', { class: 'state' }, h('span', { class: `dot ${up ? 'up' : 'down'}` }), state),
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
