import {
  assertSameCheckout,
  checkoutCandidates,
  expiredLease,
  grantedLease,
  type InstalledLicense,
  type Lease,
  leaseEndedEvent,
  leaseGrantedEvent,
  seatsExhausted,
  seatsFor,
} from '@leasehold/domain';
import type { AcquireSeatInput, AcquireSeatResult } from '../port/lease-store.js';
import { Conflict } from './conflict.js';
import type { EtcdContext } from './etcd-context.js';
import type { EtcdEpochs } from './etcd-epoch.js';
import type { Compare, KeyValue, ReadOp, WriteOp } from './etcd-gateway.js';
import type { EtcdLeases } from './etcd-leases.js';
import type { EtcdLicenses } from './etcd-licenses.js';
import type { Keyspace } from './keyspace.js';
import { decodeLease, encodeLease } from './records.js';

/** Pools up to this many seats are read whole at checkout; larger ones are probed (see #tryPool). */
const DENSE_POOL_MAX_SEATS = 64;

/**
 * The seat-pool checkout on etcd. A pool is a key per taken slot (`slot → lease id`); a grant creates its
 * slot key, its lease record and its request key in one transaction whose compares say the slot was free,
 * the request id new, the licenses unchanged and the fencing epoch the one that allowed the grant
 * (etcd-epoch.ts: a fence or promotion committed first fails the grant, whose retry then reads it). Slots
 * are chosen at random, not lowest first, so that nodes checking out at once rarely collide on a key.
 */
export class EtcdCheckout {
  constructor(
    private readonly ctx: EtcdContext,
    private readonly licenses: EtcdLicenses,
    private readonly leases: EtcdLeases,
    private readonly epochs: EtcdEpochs,
  ) {}

  acquire(input: AcquireSeatInput): Promise<AcquireSeatResult> {
    const { ctx } = this;
    const requestKey = requestKeys(ctx.keys, input);
    let round = 0;
    return ctx.optimistic.run(async () => {
      if (round++ === 0) {
        const fast = await this.#blindCheckout(input, requestKey);
        if (fast) return { lease: fast, replayed: false };
      }
      const first = await ctx.gateway.read([
        requestKey.read,
        { key: ctx.keys.licenseRev() },
        this.epochs.read(),
      ]);
      // A fenced primary grants nothing, a promoted one nothing new while it learns — replays included,
      // as on SQLite, whose guard comes first in the checkout's transaction.
      const epoch = this.epochs.check(first.results[2]?.[0], input.now, true);
      const granted = first.results[0] ?? [];
      if (granted.length > 0) {
        const found = await Promise.all(granted.map((kv) => this.leases.read(kv.value.toString())));
        const leases = found.filter((lease) => lease !== undefined);
        if (leases.length < found.length) throw new Conflict(); // purged between the two reads: read again
        // Several only for a checkout naming no license (an admin's): the one of this feature, if any.
        const lease = leases.find((l) => l.feature === input.feature) ?? (leases[0] as Lease);
        assertSameCheckout(lease, input);
        return { lease, replayed: lease.id !== input.leaseId };
      }
      const licenseRev = first.results[1]?.[0]?.modRevision ?? 0;
      const { licenses, rev } = await this.licenses.at(licenseRev);
      if (rev !== licenseRev) throw new Conflict();
      const candidates = checkoutCandidates(licenses, input.feature, input.licenseId, input.now);
      let seats = 0;
      for (const license of candidates) {
        const licensed = seatsFor(license, input.feature);
        seats += licensed;
        const granted = await this.#tryPool(license, licensed, input, requestKey, licenseRev, epoch);
        if (granted) return { lease: granted, replayed: false };
      }
      throw seatsExhausted(input.feature, seats);
    });
  }

  /**
   * The one-round-trip checkout for the common case: a large pool with free seats and licenses unchanged
   * since this node last read them. One transaction, no read before it: it compares the cached license
   * revision (so a revoked or changed license fails it), the cached fencing epoch (so a fence or
   * promotion fails it), that the request id is new (so a retry never takes a second seat), that a random
   * slot is free, and that no leftover leases sit above the seat count. Any failed compare returns
   * undefined and the caller takes the careful path, which reads first.
   */
  async #blindCheckout(input: AcquireSeatInput, requestKey: RequestKeys): Promise<Lease | undefined> {
    const { keys } = this.ctx;
    const cache = this.licenses.cached;
    const epoch = this.epochs.cached(input.now, true);
    if (cache.rev < 0 || !epoch) return undefined;
    let license: InstalledLicense | undefined;
    try {
      license = checkoutCandidates(cache.licenses, input.feature, input.licenseId, input.now)[0];
    } catch {
      return undefined; // a cached "no" is not trusted: the careful path decides with fresh data
    }
    const seats = license ? seatsFor(license, input.feature) : 0;
    if (!license || seats <= DENSE_POOL_MAX_SEATS) return undefined;
    const slot = Math.floor(this.ctx.random() * seats);
    const lease = grantedLease(license, { ...input, grantedBy: this.ctx.actor(input.audit).node }, slot, 0);
    const pool = keys.pool(license.id, input.feature);
    const result = await this.ctx.gateway.txn(
      [
        { key: keys.licenseRev(), target: 'Mod', equals: cache.rev },
        epoch,
        requestKey.absent,
        { key: keys.slot(license.id, input.feature, slot), target: 'Create', equals: 0 },
        { key: keys.slot(license.id, input.feature, seats), within: pool, target: 'Create', equals: 0 },
      ],
      this.#grantWrites(lease, input),
    );
    return result.succeeded ? this.#granted({ ...lease, fence: result.revision }) : undefined;
  }

  /** A grant that committed: its record (written at its fence) kept for the renewals that follow. */
  #granted(lease: Lease): Lease {
    this.leases.cache.remember(lease.fence, lease);
    return lease;
  }

  #grantWrites(lease: Lease, input: AcquireSeatInput, extra: WriteOp[] = []): WriteOp[] {
    const { ctx } = this;
    return [
      { put: ctx.keys.slot(lease.licenseId, lease.feature, lease.slot), value: lease.id },
      { put: ctx.keys.lease(lease.id), value: encodeLease(lease) },
      { put: ctx.keys.request(input.client.id, input.requestId, lease.licenseId), value: lease.id },
      this.leases.deadlineEntry(lease),
      ctx.pending(leaseGrantedEvent(ctx.actor(input.audit), lease, lease.createdAt)),
      ...extra,
    ];
  }

  /** Tries to grant a seat of one pool; undefined when the pool is full at `input.now`. */
  async #tryPool(
    license: InstalledLicense,
    seats: number,
    input: AcquireSeatInput,
    requestKey: RequestKeys,
    licenseRev: number,
    epoch: Compare,
  ): Promise<Lease | undefined> {
    const { ctx } = this;
    const { keys, gateway } = ctx;
    const lease = grantedLease(license, { ...input, grantedBy: ctx.actor(input.audit).node }, -1, 0);
    const base: Compare[] = [
      { key: keys.licenseRev(), target: 'Mod', equals: licenseRev },
      epoch,
      requestKey.absent,
    ];
    const writesFor = (slot: number, extra: WriteOp[] = []) =>
      this.#grantWrites({ ...lease, slot }, input, extra);
    const grant = async (slot: number, compare: Compare[], extra: WriteOp[]): Promise<Lease> => {
      const fence = await ctx.commit([...base, ...compare], writesFor(slot, extra));
      return this.#granted({ ...lease, slot, fence });
    };

    if (seats > DENSE_POOL_MAX_SEATS) {
      // Large pool: read only the slots above the seat count (downgrade leftovers, usually none), then try
      // creating random slot keys blindly. Reading a whole pool of thousands of live leases for every
      // checkout would make a checkout's cost grow with the pool.
      const poolPrefix = keys.pool(license.id, input.feature);
      const tail = await gateway.read([
        { from: keys.slot(license.id, input.feature, seats), within: poolPrefix },
      ]);
      const above = new Map((tail.results[0] ?? []).map((kv) => [keys.slotOf(kv.key), kv]));
      // Live leftovers (a downgrade) make any free slot below the count insufficient: the careful path counts.
      const probes = (await this.#liveLeftovers(above, seats, input.now)) > 0 ? 0 : 4;
      for (let probe = 0; probe < probes; probe++) {
        const slot = Math.floor(ctx.random() * seats);
        const slotKey = keys.slot(license.id, input.feature, slot);
        const result = await gateway.txn(
          [...base, { key: slotKey, target: 'Create', equals: 0 }],
          writesFor(slot),
          [requestKey.read, { key: slotKey }, this.epochs.read()],
        );
        if (result.succeeded) return this.#granted({ ...lease, slot, fence: result.revision });
        const [requestSeen, slotSeen, epochSeen] = result.failure;
        // Not the slot (a retried request, a license change, a fence or promotion): decide again from a
        // fresh read, which reads the epoch too.
        if (
          (requestSeen?.length ?? 0) > 0 ||
          (slotSeen?.length ?? 0) === 0 ||
          !this.epochs.holds(epoch, epochSeen?.[0])
        ) {
          throw new Conflict();
        }
      }
      // Four taken slots in a row: the pool is nearly full; look at all of it.
    }

    const poolPrefix = keys.pool(license.id, input.feature);
    const { results, revision } = await gateway.read([{ prefix: poolPrefix }]);
    const present = new Map((results[0] ?? []).map((kv) => [keys.slotOf(kv.key), kv]));
    const usable = seats;
    const guard: Compare[] = [];
    if ((await this.#liveLeftovers(present, seats, input.now)) > 0) {
      // After a downgrade live leases sit above the seat count, so a free slot below it is not a free seat:
      // count every live lease, and let the grant commit only if nothing in the pool changed since this
      // read (concurrent grants on this pool then serialize until the leftovers are gone).
      const holders = await gateway.getMany(
        [...present.values()].map((kv) => keys.lease(kv.value.toString())),
      );
      const live = holders.filter((kv) => kv && ctx.handOver.occupies(decodeLease(kv), input.now)).length;
      if (live >= seats) return undefined;
      guard.push({ key: poolPrefix, within: poolPrefix, target: 'Mod', below: revision + 1 });
    }

    const slot = this.#randomFreeSlot(present, usable);
    if (slot !== undefined) {
      const slotKey = keys.slot(license.id, input.feature, slot);
      return grant(slot, [{ key: slotKey, target: 'Create', equals: 0 }, ...guard], []);
    }
    // Every usable slot is taken: take over one whose lease ran out, ending that lease in the same write.
    // In random order: concurrent checkouts on a full pool of expired leases then take over different slots.
    const taken = shuffle(
      [...present.entries()].filter(([slot]) => slot < usable),
      ctx.random,
    );
    // Holders are read a chunk at a time and the first expired one is taken: a full pool of live leases
    // costs reading them all, a pool with expired ones usually one chunk.
    for (let i = 0; i < taken.length; i += 16) {
      const chunk = taken.slice(i, i + 16);
      const holders = await gateway.getMany(chunk.map(([, kv]) => keys.lease(kv.value.toString())));
      for (const [j, [slot, slotKv]] of chunk.entries()) {
        const holderKv = holders[j];
        const holder = holderKv && decodeLease(holderKv);
        // Past its deadline is not enough: the seat is handed over only after the clock margin too.
        if (holder && ctx.handOver.occupies(holder, input.now)) continue;
        const compare: Compare[] = [{ key: slotKv.key, target: 'Mod', equals: slotKv.modRevision }];
        const extra: WriteOp[] = [];
        if (holder && holderKv) {
          compare.push({ key: holderKv.key, target: 'Mod', equals: holderKv.modRevision });
          if (holder.endReason === undefined) {
            const expired = expiredLease(holder);
            extra.push(
              { put: holderKv.key, value: encodeLease(expired) },
              ...this.leases.indexEnd(holder, expired),
              ctx.pending(
                leaseEndedEvent({ actor: 'system:expiry', node: ctx.node }, holder, 'expired', input.now),
              ),
            );
          }
        }
        return grant(slot, [...compare, ...guard], extra);
      }
    }
    return undefined;
  }

  /**
   * A random slot in [0, usable) with no key, or undefined when all have one. Random, not lowest, so that
   * concurrent checkouts on several nodes rarely collide on one key; sampled first, so a pool of a million
   * seats costs a few draws rather than a million-step scan, and scanned only when the pool is dense.
   */
  #randomFreeSlot(present: ReadonlyMap<number, unknown>, usable: number): number | undefined {
    if (present.size < usable / 2) {
      for (let draw = 0; draw < 16; draw++) {
        const slot = Math.floor(this.ctx.random() * usable);
        if (!present.has(slot)) return slot;
      }
    }
    const free: number[] = [];
    for (let slot = 0; slot < usable; slot++) if (!present.has(slot)) free.push(slot);
    return free.length === 0 ? undefined : free[Math.floor(this.ctx.random() * free.length)];
  }

  /**
   * Leases left above the seat count by a license re-issued with fewer seats, still holding seats at
   * `now` (they can never renew, so their number only falls). While there are any, checkouts count every
   * live lease of the pool and commit only if the pool is unchanged since they read it (see #tryPool).
   */
  async #liveLeftovers(present: ReadonlyMap<number, KeyValue>, seats: number, now: number): Promise<number> {
    const above = [...present.entries()]
      .filter(([slot]) => slot >= seats)
      .map(([, kv]) => kv.value.toString());
    if (above.length === 0) return 0;
    const holders = await this.ctx.gateway.getMany(above.map((id) => this.ctx.keys.lease(id)));
    return holders.filter((kv) => kv && this.ctx.handOver.occupies(decodeLease(kv), now)).length;
  }
}

/** How a checkout reads its earlier grant, and the compare that holds while it has none. */
interface RequestKeys {
  readonly read: ReadOp;
  readonly absent: Compare;
}

/**
 * Idempotency keys are per license (issue 11): a checkout under a license (every client token's) looks at
 * that license's key only, so a request id used under another license is new here and reveals nothing of
 * it. A checkout naming no license (an admin's) looks at every license's key of its request id.
 */
function requestKeys(keys: Keyspace, input: AcquireSeatInput): RequestKeys {
  if (input.licenseId !== undefined) {
    const key = keys.request(input.client.id, input.requestId, input.licenseId);
    return { read: { key }, absent: { key, target: 'Create', equals: 0 } };
  }
  const prefix = keys.requests(input.client.id, input.requestId);
  return { read: { prefix }, absent: { key: prefix, within: prefix, target: 'Create', equals: 0 } };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
