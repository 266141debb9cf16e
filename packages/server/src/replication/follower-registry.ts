import type { Clock } from '@leasehold/domain';

/** The header a replica (feed requests) and an edge (its `/v1/edge/*` calls) name themselves with. */
export const FOLLOWER_HEADER = 'leasehold-follower';
/**
 * What a follower may call itself: a node id (`--node-id`, default `host:port`), as the API's ids are
 * (http/schemas.ts `Id`). A node whose id does not fit sends no header and shows by its address.
 */
export const FOLLOWER_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const FOLLOWER_ID = new RegExp(FOLLOWER_ID_PATTERN);

export type FollowerRole = 'replica' | 'edge';

/** One follower as this node last saw it (times are this node's monotonic clock, ms). */
export interface FollowerEntry {
  readonly id: string;
  readonly role: FollowerRole;
  /** False for a replica that sent no `leasehold-follower` header (an older version): named by address. */
  readonly identified: boolean;
  readonly address: string;
  readonly lastSeen: number;
  /** Feed requests of this follower being answered now (a caught-up replica sits in a long-poll). */
  readonly inFlight: number;
  /** Replicas: the `after` of its last feed request, i.e. what it has committed. */
  readonly position?: number;
  /** Edges: when it last renewed (or grew, shrank) a block here. */
  readonly lastRenewal?: number;
}

/** What `/v1/cluster` and `/metrics` show of one follower, computed at the time of asking. */
export interface FollowerStatus {
  readonly id: string;
  readonly role: FollowerRole;
  readonly identified: boolean;
  readonly address: string;
  readonly lastSeenSeconds: number;
  readonly polling: boolean;
  readonly position?: number;
  readonly lagRevisions?: number;
  readonly lagSeconds?: number;
  readonly lastRenewalSeconds?: number;
}

export interface FollowerRegistryOptions {
  readonly clock: Clock;
  /** At most this many followers are remembered; the one seen longest ago makes room. */
  readonly maxEntries?: number;
  /** A follower not seen for this long is forgotten. */
  readonly forgetAfterMs?: number;
}

/** Head samples kept to date a revision: enough for minutes of continuous changes at 10 samples a second. */
const MAX_HEAD_SAMPLES = 4096;
/** Samples closer than this merge, keeping the earlier time. */
const HEAD_SAMPLE_GAP_MS = 100;

/**
 * The primary's picture of who follows it (docs/replication.md "Followers"): replicas by their feed
 * requests, edges by their block renewals, syncs and audit uploads. In memory and per node: a follower
 * talking to another node of an etcd cluster shows on that node's picture; after a restart the picture
 * fills again with the next requests (a long-poll returns within its wait).
 *
 * Lag in seconds is dated by the head revisions this node has answered with: `lagSeconds` is how long ago
 * this node first saw a head beyond the follower's position (0 while the follower has everything this
 * node knows of). It cannot see changes nobody asked about, so a follower that stopped asking shows in
 * `lastSeenSeconds`, not in its lag — the same split as the replica's own lag and last contact.
 */
export class FollowerRegistry {
  readonly #clock: Clock;
  readonly #max: number;
  readonly #forgetAfterMs: number;
  readonly #entries = new Map<string, FollowerEntry>();
  /** (revision, monotonic time first seen), both increasing. */
  readonly #heads: { rev: number; at: number }[] = [];

  constructor(options: FollowerRegistryOptions) {
    this.#clock = options.clock;
    this.#max = options.maxEntries ?? 256;
    this.#forgetAfterMs = options.forgetAfterMs ?? 10 * 60_000;
  }

  /** The follower id a request names, or undefined when it names none (or an unusable one). */
  static idOf(header: string | string[] | undefined): string | undefined {
    const value = Array.isArray(header) ? header[0] : header;
    return value !== undefined && FOLLOWER_ID.test(value) ? value : undefined;
  }

  /**
   * A feed request from a replica at `position`. Returns the call that records its answer (the page's
   * head), or the end of a failed request; call it exactly once.
   */
  feedRequest(id: string | undefined, address: string, position: number): (head?: number) => void {
    // An edge that copies licenses and tokens from the feed stays one entry, with a position.
    const role = id !== undefined && this.#entries.has(`edge:${id}`) ? 'edge' : 'replica';
    const key = this.#touch(id, address, role, (e) => ({
      position: Math.max(position, -1),
      inFlight: e.inFlight + 1,
    }));
    let done = false;
    return (head) => {
      if (done) return;
      done = true;
      if (head !== undefined) this.observeHead(head);
      // It may have turned out to be an edge meanwhile (edgeContact merged it).
      const at = this.#entries.has(key) ? key : `edge:${id}`;
      const entry = this.#entries.get(at);
      if (entry) {
        this.#entries.set(at, {
          ...entry,
          inFlight: Math.max(0, entry.inFlight - 1),
          lastSeen: this.#clock.monotonic(),
        });
      }
    };
  }

  /** An edge site's call: `renewal` for a block hold/renewal, otherwise a sync or an audit upload. */
  edgeContact(site: string, address: string, renewal: boolean): void {
    const now = this.#clock.monotonic();
    // Its feed requests may have come first (as a replica's): they are the same follower.
    const asReplica = this.#entries.get(`replica:${site}`);
    this.#entries.delete(`replica:${site}`);
    this.#touch(site, address, 'edge', () => ({
      ...(asReplica?.position === undefined ? {} : { position: asReplica.position }),
      ...(asReplica ? { inFlight: asReplica.inFlight } : {}),
      ...(renewal ? { lastRenewal: now } : {}),
    }));
  }

  /** A head revision this node answered with (pages, snapshots): dates the revisions for the lag. */
  observeHead(head: number): void {
    const now = this.#clock.monotonic();
    const last = this.#heads.at(-1);
    if (last && head <= last.rev) return;
    if (last && now - last.at < HEAD_SAMPLE_GAP_MS) {
      // Dates the newer revisions up to HEAD_SAMPLE_GAP_MS early: a lag over-, never understated.
      this.#heads[this.#heads.length - 1] = { rev: head, at: last.at };
      return;
    }
    this.#heads.push({ rev: head, at: now });
    if (this.#heads.length > MAX_HEAD_SAMPLES) this.#heads.shift();
  }

  /** The newest head this node has answered with (-1: none yet). */
  get head(): number {
    return this.#heads.at(-1)?.rev ?? -1;
  }

  list(): FollowerStatus[] {
    const now = this.#clock.monotonic();
    this.#forget(now);
    const head = this.head;
    return [...this.#entries.values()]
      .map((e) => {
        const lagged =
          e.position === undefined
            ? {}
            : {
                position: e.position,
                lagRevisions: head < 0 ? 0 : Math.max(0, head - e.position),
                lagSeconds: round(this.#lagMs(e.position, now) / 1000),
              };
        return {
          id: e.id,
          role: e.role,
          identified: e.identified,
          address: e.address,
          lastSeenSeconds: round((now - e.lastSeen) / 1000),
          polling: e.inFlight > 0,
          ...lagged,
          ...(e.lastRenewal === undefined ? {} : { lastRenewalSeconds: round((now - e.lastRenewal) / 1000) }),
        };
      })
      .sort((a, b) => a.role.localeCompare(b.role) || a.id.localeCompare(b.id));
  }

  /** How long ago this node first saw a head above `position` (0 if it has seen none). */
  #lagMs(position: number, now: number): number {
    const heads = this.#heads;
    if (heads.length === 0 || (heads.at(-1)?.rev ?? -1) <= position) return 0;
    // The first sample whose revision is above the position: binary search over increasing revisions.
    let lo = 0;
    let hi = heads.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((heads[mid]?.rev ?? 0) > position) hi = mid;
      else lo = mid + 1;
    }
    return Math.max(0, now - (heads[lo]?.at ?? now));
  }

  #touch(
    id: string | undefined,
    address: string,
    role: FollowerRole,
    change: (entry: FollowerEntry) => Partial<FollowerEntry>,
  ): string {
    const now = this.#clock.monotonic();
    // An unnamed follower (an older replica) is known by its address; a named one by role and name.
    const key = `${role}:${id ?? `@${address}`}`;
    const entry: FollowerEntry = this.#entries.get(key) ?? {
      id: id ?? `unnamed@${address}`,
      role,
      identified: id !== undefined,
      address,
      lastSeen: now,
      inFlight: 0,
    };
    this.#entries.delete(key);
    this.#entries.set(key, { ...entry, ...change(entry), address, lastSeen: now });
    // The map keeps insertion order and each touch re-inserts: the first entry is the one seen longest ago.
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return key;
  }

  #forget(now: number): void {
    for (const [key, e] of this.#entries) {
      if (e.inFlight === 0 && now - e.lastSeen > this.#forgetAfterMs) this.#entries.delete(key);
    }
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
