import { accessibleLease, type InstalledLicense, type Lease, LeaseholdError } from '@leasehold/domain';
import { assertDistinctLeases } from '../port/distinct-leases.js';
import type { LeaseRef, RenewOutcome } from '../port/lease-store.js';
import { Conflict } from './conflict.js';
import type { EtcdContext } from './etcd-context.js';
import type { EtcdEpochs } from './etcd-epoch.js';
import type { Compare, KeyValue, WriteOp } from './etcd-gateway.js';
import type { EtcdLicenses } from './etcd-licenses.js';
import type { LeaseRecordCache } from './lease-record-cache.js';
import { decodeLease } from './records.js';

/** A renewal decided: the renewed lease and the compare-guarded transaction that writes it. */
export interface Renewal {
  readonly renewed: Lease;
  readonly compare: Compare[];
  readonly writes: WriteOp[];
}

/** What the many-lease renewal needs of EtcdLeases: its store, caches, one-lease rules and renewal. */
export interface RenewManyDeps {
  readonly ctx: EtcdContext;
  readonly licenses: EtcdLicenses;
  readonly cache: LeaseRecordCache;
  readonly epochs: EtcdEpochs;
  /**
   * EtcdLeases' renewal rules for one lease as read (throws the lease's LeaseholdError); `epoch` is the
   * compare on the fencing epoch that allowed it.
   */
  readonly plan: (
    kv: Pick<KeyValue, 'key' | 'modRevision'>,
    lease: Lease,
    licenses: readonly InstalledLicense[],
    licenseRev: number,
    epoch: Compare,
    input: LeaseRef,
  ) => Renewal;
  /** One lease renewed alone, reading first. */
  readonly renewOne: (input: LeaseRef) => Promise<Lease>;
}

/**
 * Renews several leases. First the leases this node has cached (lease-record-cache.ts), decided from the
 * cache and the cached licenses with no read at all; then the rest — not cached, refused by the cached
 * copy (not trusted), or whose cached compare failed — with one read of their records and the license
 * revision. Each batch goes to the group-commit batcher at once (`txnMany`): one etcd transaction, one
 * Raft proposal, as far as `--max-txn-ops` allows. A lease whose read-path compare failed or whose
 * outcome is unknown is renewed again on its own through `renew`, which re-reads; the others are not
 * held back by it. The SDK renews all of a client's leases in one such call, so this is its hot path.
 *
 * Every renewal compares the fencing epoch it was allowed by (etcd-epoch.ts): the cached pass the copy
 * this node saw last, the read pass the epoch read with the license revision. A fenced epoch is each
 * lease's own refusal (PRIMARY_FENCED), as on SQLite, so leases renewed before a fence landed keep
 * their answers.
 */
export async function renewMany(d: RenewManyDeps, inputs: readonly LeaseRef[]): Promise<RenewOutcome[]> {
  assertDistinctLeases(inputs);
  const outcomes: (RenewOutcome | undefined)[] = inputs.map(() => undefined);
  const retry: number[] = [];
  const uncached = await renewCached(d, inputs, outcomes, retry);
  if (uncached.length > 0) await renewRead(d, inputs, uncached, outcomes, retry);
  await Promise.all(
    retry.map(async (index) => {
      outcomes[index] = await d.renewOne(inputs[index] as LeaseRef).then(
        (lease): RenewOutcome => ({ ok: true, lease }),
        (err: unknown): RenewOutcome => {
          if (err instanceof LeaseholdError) return { ok: false, error: err };
          throw err;
        },
      );
    }),
  );
  return outcomes.map((o) => {
    if (!o) throw new Error('renewMany left a lease undecided');
    return o;
  });
}

/** The cached pass of `renewMany`, as for one lease: answers the indices it leaves to the read pass. */
async function renewCached(
  d: RenewManyDeps,
  inputs: readonly LeaseRef[],
  outcomes: (RenewOutcome | undefined)[],
  retry: number[],
): Promise<number[]> {
  const snapshot = d.licenses.cached;
  if (snapshot.rev < 0) return inputs.map((_, index) => index);
  const rest: number[] = [];
  const planned: { index: number; renewal: Renewal }[] = [];
  inputs.forEach((input, index) => {
    // No copy of the epoch, or one that refuses (not trusted): the read pass decides, as for the lease.
    const epoch = d.epochs.cached(input.now, false);
    if (!epoch) {
      rest.push(index);
      return;
    }
    const entry = d.cache.take(input.leaseId);
    try {
      if (!entry || (input.licenseId !== undefined && entry.lease.licenseId !== input.licenseId)) {
        throw new LeaseholdError('LEASE_NOT_FOUND');
      }
      const lease = accessibleLease(entry.lease, input);
      planned.push({ index, renewal: d.plan(entry, lease, snapshot.licenses, snapshot.rev, epoch, input) });
    } catch (err) {
      if (!(err instanceof LeaseholdError)) throw err;
      rest.push(index); // not cached, or a cached refusal: the read decides
    }
  });
  const settled = await Promise.allSettled(d.ctx.gateway.txnMany(planned.map((p) => p.renewal)));
  settled.forEach((result, i) => {
    const { index, renewal } = planned[i] as (typeof planned)[number];
    if (result.status === 'rejected') {
      retry.push(index); // unknown outcome: renewed again alone, after a read
    } else if (result.value.succeeded) {
      d.cache.remember(result.value.revision, renewal.renewed);
      outcomes[index] = { ok: true, lease: renewal.renewed };
    } else {
      d.cache.stats.stale++;
      rest.push(index);
    }
  });
  return rest;
}

/**
 * Lease records read together with the license revision and the epoch in the read pass's one read: with
 * those two, the read batcher's cap (100 range ops per read-only transaction). More (a call of up to 100
 * leases) read the rest in a second read.
 */
const RECORDS_WITH_HEADS = 98;

/**
 * The read pass of `renewMany` over the leases at `indices`: ONE linearizable read of the license
 * revision, the fencing epoch and the lease records together (it was two, one after the other: the
 * heads, then the records), then one group-committed write. The licenses at that revision are this
 * node's cached copy unless the revision moved.
 */
async function renewRead(
  d: RenewManyDeps,
  inputs: readonly LeaseRef[],
  indices: readonly number[],
  outcomes: (RenewOutcome | undefined)[],
  retry: number[],
): Promise<void> {
  const { ctx } = d;
  const decided: number[] = [];
  const leaseKeys = indices.map((i) => ctx.keys.lease((inputs[i] as LeaseRef).leaseId));
  // A read that finds no quorum fails the whole call (STORE_UNAVAILABLE): the caller tries another node.
  await ctx.optimistic.run(async () => {
    for (const index of indices) outcomes[index] = undefined;
    decided.length = 0;
    const first = leaseKeys.slice(0, RECORDS_WITH_HEADS);
    const [heads, more] = await Promise.all([
      ctx.gateway.read([{ key: ctx.keys.licenseRev() }, d.epochs.read(), ...first.map((key) => ({ key }))]),
      leaseKeys.length > first.length ? ctx.gateway.getMany(leaseKeys.slice(first.length)) : [],
    ]);
    const licenseRev = heads.results[0]?.[0]?.modRevision ?? 0;
    const epochKv = heads.results[1]?.[0];
    const kvs = [...heads.results.slice(2).map((r) => r[0]), ...more];
    const { licenses, rev } = await d.licenses.at(licenseRev);
    if (rev !== licenseRev) throw new Conflict();
    const planned: { index: number; renewed: Lease }[] = [];
    const txns: Renewal[] = [];
    indices.forEach((index, at) => {
      const input = inputs[index] as LeaseRef;
      const kv = kvs[at];
      const lease = kv && decodeLease(kv);
      try {
        // The epoch first, as SQLite's guard: a fenced store refuses every lease, found or not.
        const epoch = d.epochs.check(epochKv, input.now, false);
        if (!kv || !lease || (input.licenseId !== undefined && lease.licenseId !== input.licenseId)) {
          throw new LeaseholdError('LEASE_NOT_FOUND', `no lease "${input.leaseId}"`);
        }
        const renewal = d.plan(kv, lease, licenses, licenseRev, epoch, input);
        txns.push(renewal);
        planned.push({ index, renewed: renewal.renewed });
      } catch (err) {
        if (!(err instanceof LeaseholdError)) throw err;
        outcomes[index] = { ok: false, error: err };
      }
    });
    const settled = await Promise.allSettled(ctx.gateway.txnMany(txns));
    settled.forEach((result, i) => {
      const { index, renewed } = planned[i] as (typeof planned)[number];
      if (result.status === 'fulfilled' && result.value.succeeded) {
        d.cache.remember(result.value.revision, renewed);
        outcomes[index] = { ok: true, lease: renewed };
      } else {
        decided.push(index); // changed since the read, or an unknown outcome: decided again below
      }
    });
  });
  retry.push(...decided);
}
