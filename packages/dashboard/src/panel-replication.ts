import { ApiProblem, api } from './api.js';
import { byId, formatAge, h, replaceChildren } from './dom.js';

/**
 * What this panel reads of `GET /v1/cluster` and `GET /v1/edge/site` (their schemas are the server's,
 * packages/server/src/http/routes/cluster.ts, cluster-followers.ts and edge.ts). `epoch` is the cluster's
 * fencing epoch once the server has one (issue 12, promotion); "—" until then.
 */
interface SeatBlock {
  readonly license: string;
  readonly feature: string;
  readonly seats: number;
  readonly heldForMs: number;
}

interface Follower {
  readonly id: string;
  readonly role: 'replica' | 'edge';
  readonly identified: boolean;
  readonly lastSeenSeconds?: number;
  readonly polling?: boolean;
  readonly lagRevisions?: number;
  readonly lagSeconds?: number;
  readonly lastRenewalSeconds?: number;
  readonly epoch?: number;
  readonly blocks?: readonly SeatBlock[];
}

interface UpstreamStatus {
  readonly primary: string;
  readonly position: number;
  readonly head: number;
  readonly lagRevisions: number;
  readonly lagSeconds: number;
  readonly lastContactSeconds?: number;
  readonly connected: boolean;
  readonly lastError?: string;
}

interface ClusterAnswer {
  readonly epoch?: number;
  readonly replica?: UpstreamStatus;
  readonly replication?: { readonly head: number; readonly followers: readonly Follower[] };
}

interface SiteBlock {
  readonly license: string;
  readonly feature: string;
  readonly wanted: number;
  readonly seats: number;
  readonly remainingMs: number;
  readonly primaryHeldUntil?: number;
  readonly lastError?: string;
}

interface SiteAnswer {
  readonly edge: boolean;
  readonly primary?: string;
  readonly site?: string;
  readonly blocks: readonly SiteBlock[];
}

const DASH = '—';

function seconds(s: number | undefined): string {
  return s === undefined ? DASH : formatAge(s * 1000);
}

/**
 * Replicas and edge sites: on a primary, who follows it (lag, last contact, an edge's blocks); on a
 * replica, its upstream and lag; on an edge, its blocks as it counts them. Polled like the leases: it is
 * the node's own view (each node knows the followers that call it; docs/replication.md "Followers").
 */
export async function refreshReplication(token: string, signal: AbortSignal): Promise<void> {
  const summary = byId('replication-summary');
  let cluster: ClusterAnswer;
  let site: SiteAnswer | undefined;
  try {
    [cluster, site] = await Promise.all([
      api<ClusterAnswer>(token, 'GET', '/v1/cluster', undefined, signal),
      // A node without the edge API (an older version) is simply no edge.
      api<SiteAnswer>(token, 'GET', '/v1/edge/site', undefined, signal).catch(() => undefined),
    ]);
  } catch (err) {
    if (signal.aborted) return;
    summary.textContent = `not available: ${err instanceof ApiProblem ? err.code : String(err)}`;
    return;
  }
  if (signal.aborted) return;
  const epoch = cluster.epoch === undefined ? DASH : String(cluster.epoch);
  const followers = cluster.replication?.followers ?? [];
  const role = cluster.replica
    ? `replica of ${cluster.replica.primary}`
    : site?.edge
      ? `edge site ${site.site ?? ''} of ${site.primary ?? ''}`
      : `${followers.length} follower${followers.length === 1 ? '' : 's'}`;
  summary.textContent = `epoch ${epoch} · ${role}`;
  summary.dataset.epoch = epoch;
  renderUpstream(cluster.replica);
  renderSiteBlocks(site?.edge ? site.blocks : undefined);
  replaceChildren(
    byId('followers-body'),
    followers.length > 0
      ? followers.map(followerRow)
      : [h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'no replica or edge follows this node'))],
  );
}

function followerRow(f: Follower): HTMLTableRowElement {
  const seen = f.polling ? 'polling now' : seconds(f.lastSeenSeconds);
  const blocks = (f.blocks ?? []).map((b) =>
    h(
      'div',
      { 'data-block': `${b.license}:${b.feature}` },
      `${b.license}:${b.feature} · ${b.seats} seat${b.seats === 1 ? '' : 's'} · ${formatAge(b.heldForMs)} left`,
    ),
  );
  return h(
    'tr',
    { 'data-follower': f.id, 'data-role': f.role, 'data-lag': f.lagRevisions ?? '' },
    h('td', {}, f.id, f.identified ? null : h('span', { class: 'badge' }, 'older version')),
    h('td', {}, f.role),
    h('td', { class: 'num' }, f.lagRevisions ?? DASH),
    h('td', { class: 'num' }, seconds(f.lagSeconds)),
    h(
      'td',
      { class: 'num' },
      seen,
      f.lastRenewalSeconds === undefined ? null : ` (renewed ${seconds(f.lastRenewalSeconds)} ago)`,
    ),
    h('td', { class: 'num' }, f.epoch ?? DASH),
    h('td', {}, ...(blocks.length > 0 ? blocks : [f.role === 'edge' ? 'no block held' : ''])),
  );
}

/** A replica's own place in its primary's feed. */
function renderUpstream(replica: UpstreamStatus | undefined): void {
  const el = byId('replication-upstream');
  el.hidden = replica === undefined;
  if (!replica) {
    el.textContent = '';
    delete el.dataset.connected;
    return;
  }
  el.dataset.connected = String(replica.connected);
  el.dataset.lag = String(replica.lagRevisions);
  el.textContent =
    `upstream ${replica.primary} · ${replica.connected ? 'connected' : 'disconnected'} · ` +
    `position ${replica.position} of ${replica.head} · lag ${replica.lagRevisions} revisions, ` +
    `${seconds(replica.lagSeconds)} · last answer ${seconds(replica.lastContactSeconds)} ago` +
    (replica.lastError ? ` · ${replica.lastError}` : '');
}

/** An edge's blocks, as it counts them down on its own clock. */
function renderSiteBlocks(blocks: readonly SiteBlock[] | undefined): void {
  byId('site-blocks').hidden = blocks === undefined;
  replaceChildren(
    byId('site-blocks-body'),
    (blocks ?? []).map((b) =>
      h(
        'tr',
        { 'data-block': `${b.license}:${b.feature}`, class: b.remainingMs > 0 ? 'up' : 'down' },
        h('td', {}, b.license),
        h('td', {}, b.feature),
        h('td', { class: 'num' }, b.wanted),
        h('td', { class: 'num' }, b.seats),
        h('td', { class: 'num' }, b.remainingMs > 0 ? formatAge(b.remainingMs) : 'ran out'),
        h(
          'td',
          {},
          b.primaryHeldUntil === undefined ? DASH : new Date(b.primaryHeldUntil).toLocaleTimeString(),
        ),
        h('td', { class: 'error' }, b.lastError ?? ''),
      ),
    ),
  );
}
