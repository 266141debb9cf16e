import {
  type AuditAction,
  type AuditContext,
  type AuditEntry,
  type AuditEvent,
  type AuditHead,
  assertRenewable,
  assertSameCheckout,
  auditEvent,
  checkoutCandidates,
  holdsSeat,
  type InstalledLicense,
  installOutcome,
  type Lease,
  type LeaseEndReason,
  LeaseholdError,
  type License,
  leaseWindow,
  type StoredCheckpoint,
  seatsExhausted,
  seatsFor,
} from '@leasehold/domain';
import type { RandomBytes } from '../crypto/aes-gcm.js';
import { newDataKey, parseWrappedDataKey, unwrapDataKey, wrapDataKey } from '../crypto/data-key.js';
import { kekFingerprint } from '../crypto/key-encryption-key.js';
import { RecordCipher } from '../crypto/record-cipher.js';
import { openSigningKey, sealLicense, sealSigningKey } from '../crypto/sealed-records.js';
import type {
  AcquireSeatInput,
  AcquireSeatResult,
  ApiTokenRecord,
  AuditQuery,
  AuditSealResult,
  AuditStatus,
  ForceReleaseInput,
  InstallLicenseResult,
  KekRotation,
  LeaseQuery,
  LeaseRef,
  LeaseStore,
  SeatUsage,
  StoredSigningKey,
} from '../port/lease-store.js';
import { AuditConflict, EtcdAudit } from './etcd-audit.js';
import {
  type Compare,
  type EtcdConnectionOptions,
  EtcdGateway,
  EtcdTransientError,
  type KeyValue,
  operationDeadline,
  storeUnavailable,
  type WriteOp,
} from './etcd-gateway.js';
import { Keyspace } from './keyspace.js';
import { decodeJson, decodeLease, decodeLicense, encodeLease, encodeLicense } from './records.js';

export interface EtcdStoreOptions extends EtcdConnectionOptions {
  /** Key prefix of this deployment (several clusters, or tests, may share one etcd). Ends with "/". */
  readonly prefix?: string;
  /** How long one store operation may keep retrying before it answers STORE_UNAVAILABLE. */
  readonly operationBudgetMs?: number;
  /** Randomness for slot choice and backoff jitter (injected, STYLE.md rule 4). */
  readonly random?: () => number;
  /** The key-encryption key (32 bytes) the data key is wrapped under; see docs/security.md. */
  readonly kek: Uint8Array;
  /** Randomness for the data key and nonces (injected). */
  readonly randomBytes?: RandomBytes;
  /** The node named by audit records of calls that pass no audit context (docs/audit.md). */
  readonly node?: string;
}

/** Pools up to this many seats are read whole at checkout; larger ones are probed (see #tryPool). */
const DENSE_POOL_MAX_SEATS = 64;

/** A compare failed: someone else wrote first. Re-read and decide again. */
class Conflict extends Error {}

interface LicenseSnapshot {
  /** Mod revision of the license-rev key (0 when no license was ever installed). */
  readonly rev: number;
  readonly licenses: InstalledLicense[];
}

/**
 * The HA backend: every operation is optimistic — read (linearizable), decide with the same domain rules
 * as SQLite, then one transaction whose compares guarantee that what was read is still true. A failed
 * compare re-reads and decides again; an error (unknown outcome) does the same, and the re-read finds the
 * write if it happened (the request key of a checkout, the renewed record of a renewal), so no write is
 * blindly repeated. Operations give up with STORE_UNAVAILABLE when their budget runs out.
 *
 * Seat expiry is decided by deadlines stored in the lease records and compared with the acting node's
 * clock inside the compare-guarded transaction (docs/ha.md explains why not etcd leases).
 */
export class EtcdStore implements LeaseStore {
  readonly backend = 'etcd';
  readonly gateway: EtcdGateway;
  readonly keys: Keyspace;
  readonly #budgetMs: number;
  readonly #random: () => number;
  #licenseCache: LicenseSnapshot = { rev: -1, licenses: [] };
  readonly #kek: Uint8Array;
  readonly #randomBytes: RandomBytes | undefined;
  #cipher: RecordCipher | undefined;
  readonly #audit: EtcdAudit;
  readonly #node: string;

  constructor(options: EtcdStoreOptions) {
    this.#kek = options.kek;
    this.#randomBytes = options.randomBytes;
    this.gateway = new EtcdGateway(options);
    this.keys = new Keyspace(options.prefix ?? '/leasehold/');
    this.#budgetMs = options.operationBudgetMs ?? 1300;
    this.#random = options.random ?? Math.random;
    this.#audit = new EtcdAudit(this.gateway, this.keys, this.#random);
    this.#node = options.node ?? 'unnamed';
  }

  /** The pending audit record of a change, as one more write in the change's own transaction. */
  #pending(
    audit: AuditContext | undefined,
    action: AuditAction,
    subject: string,
    time: number,
    details?: AuditEvent['details'],
  ): WriteOp {
    return this.#audit.pendingWrite(
      auditEvent(audit ?? { actor: 'system', node: this.#node }, action, subject, time, details),
    );
  }

  /**
   * Runs `attempt` until it returns, throws a LeaseholdError, or the budget ends. Conflicts retry at once;
   * transient etcd errors retry after a short jittered pause.
   */
  async #optimistic<T>(attempt: () => Promise<T>): Promise<T> {
    const start = performance.now();
    // Unavailability gives up after the budget (a 503 within 2 s: invariant 8). Conflicts mean etcd is
    // answering and another writer won; those may retry longer, since every round makes progress.
    // An enclosing deadline (the HTTP request's, see the server's onRequest hook) may only shorten it.
    const unavailableBy = Math.min(
      start + this.#budgetMs,
      operationDeadline.getStore() ?? Number.POSITIVE_INFINITY,
    );
    const contendedBy = start + this.#budgetMs * 4;
    let lastError: unknown;
    for (let round = 0; ; round++) {
      const now = performance.now();
      if (now >= contendedBy || (lastError instanceof EtcdTransientError && now >= unavailableBy)) break;
      try {
        return await operationDeadline.run(lastError instanceof Conflict ? contendedBy : unavailableBy, () =>
          this.#cipher ? attempt() : this.#loadDataKey().then(attempt),
        );
      } catch (err) {
        if (err instanceof LeaseholdError) throw err;
        if (!(err instanceof Conflict) && !(err instanceof EtcdTransientError)) throw err;
        lastError = err;
        // No quorum can answer: a majority of members just failed. Retrying until the budget ends only
        // delays the 503 the client needs to fail over (issue 15: a cut-off node answered after 2.05 s).
        if (err instanceof EtcdTransientError && this.gateway.quorumUnreachable()) break;
        if (err instanceof EtcdTransientError) {
          const pause = Math.min(200, 20 * 2 ** Math.min(round, 4)) * (0.5 + this.#random());
          const left = Math.max(0, unavailableBy - performance.now());
          await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
        }
      }
    }
    throw lastError instanceof Conflict
      ? new LeaseholdError('STORE_UNAVAILABLE', 'too much contention on this seat pool; retry', undefined, {
          cause: lastError,
        })
      : storeUnavailable(lastError);
  }

  #sealer(): RecordCipher {
    if (!this.#cipher) throw new Error('the data key is read before any record (see #optimistic)');
    return this.#cipher;
  }

  /**
   * Reads and unwraps the cluster's data key, or makes it (create-if-absent: two nodes starting at once
   * keep one). A wrong KEK is KEK_MISMATCH. Records written before encryption at rest are sealed in the
   * same transaction that creates the data key, guarded by their mod revisions.
   */
  async #loadDataKey(): Promise<void> {
    const { results } = await this.gateway.read([
      { key: this.keys.dataKey() },
      { prefix: this.keys.licenses() },
      { prefix: this.keys.signingKeys() },
    ]);
    const stored = results[0]?.[0];
    if (stored) {
      const dataKey = unwrapDataKey(parseWrappedDataKey(stored.value.toString()), this.#kek);
      this.#cipher = new RecordCipher(dataKey, this.#randomBytes);
      return;
    }
    const dataKey = newDataKey(this.#randomBytes);
    const cipher = new RecordCipher(dataKey, this.#randomBytes);
    const compare: Compare[] = [{ key: this.keys.dataKey(), target: 'Create', equals: 0 }];
    const writes: WriteOp[] = [
      { put: this.keys.dataKey(), value: JSON.stringify(wrapDataKey(dataKey, this.#kek, this.#randomBytes)) },
    ];
    for (const kv of results[1] ?? []) {
      const plain = JSON.parse(kv.value.toString()) as InstalledLicense;
      if (RecordCipher.isSealed(plain.raw)) continue;
      compare.push({ key: kv.key, target: 'Mod', equals: kv.modRevision });
      writes.push({ put: kv.key, value: JSON.stringify(sealLicense(plain, cipher)) });
    }
    for (const kv of results[2] ?? []) {
      if (kv.key.endsWith('~first')) continue;
      const plain = JSON.parse(kv.value.toString()) as StoredSigningKey;
      if (RecordCipher.isSealed(plain.privatePem)) continue;
      compare.push({ key: kv.key, target: 'Mod', equals: kv.modRevision });
      writes.push({ put: kv.key, value: JSON.stringify(sealSigningKey(plain, cipher)) });
    }
    await this.#commit(compare, writes); // a Conflict re-reads: another node made the key first
    this.#cipher = cipher;
  }

  async rotateKek(newKek: Uint8Array): Promise<KekRotation> {
    return this.#optimistic(async () => {
      const { results } = await this.gateway.read([{ key: this.keys.dataKey() }]);
      const kv = results[0]?.[0];
      const dataKey = this.#sealer().dataKey;
      if (!kv || parseWrappedDataKey(kv.value.toString()).id !== dataKey.id) {
        throw new Error('the data key changed under an open store');
      }
      // Opening proved the old KEK; the data key itself is in memory.
      const rewrapped = wrapDataKey(dataKey, newKek, this.#randomBytes);
      await this.#commit(
        [{ key: kv.key, target: 'Mod', equals: kv.modRevision }],
        [{ put: kv.key, value: JSON.stringify(rewrapped) }],
      );
      return { dataKeyId: dataKey.id, kek: kekFingerprint(newKek) };
    });
  }

  async #commit(compare: readonly Compare[], writes: readonly WriteOp[]): Promise<number> {
    const result = await this.gateway.txn(compare, writes);
    if (!result.succeeded) throw new Conflict();
    return result.revision;
  }

  /** Licenses as of `rev` (the license-rev key's mod revision just read), reloaded only when it moved. */
  async #licensesAt(rev: number): Promise<LicenseSnapshot> {
    if (this.#licenseCache.rev !== rev) {
      const { results } = await this.gateway.read([
        { key: this.keys.licenseRev() },
        { prefix: this.keys.licenses() },
      ]);
      const current = results[0]?.[0]?.modRevision ?? 0;
      this.#licenseCache = {
        rev: current,
        licenses: (results[1] ?? []).map((kv) => decodeLicense(kv, this.#sealer())),
      };
      // A newer revision than the one the caller read makes its compare fail, and it re-reads: correct.
    }
    return this.#licenseCache;
  }

  async ping(): Promise<void> {
    await this.#optimistic(() => this.gateway.read([{ key: this.keys.licenseRev() }]));
  }

  async close(): Promise<void> {
    this.gateway.close();
  }

  // Licenses -------------------------------------------------------------------------------------

  installLicense(license: License, now: number, audit?: AuditContext): Promise<InstallLicenseResult> {
    return this.#optimistic(async () => {
      const { results } = await this.gateway.read([{ key: this.keys.license(license.id) }]);
      const kv = results[0]?.[0];
      const existing = kv && decodeLicense(kv, this.#sealer());
      const outcome = installOutcome(existing, license);
      if (outcome === 'unchanged' && existing) return { outcome, license: existing };
      const installed: InstalledLicense = { ...license, installedAt: now, revokedAt: undefined };
      await this.#commit(
        [{ key: this.keys.license(license.id), target: 'Mod', equals: kv?.modRevision ?? 0 }],
        [
          { put: this.keys.license(license.id), value: encodeLicense(installed, this.#sealer()) },
          { put: this.keys.licenseRev(), value: license.id },
          this.#pending(
            audit,
            outcome === 'upgraded' ? 'license.upgraded' : 'license.installed',
            `license:${license.id}`,
            now,
            { version: license.version },
          ),
        ],
      );
      return { outcome, license: installed };
    });
  }

  async getLicense(id: string): Promise<InstalledLicense | undefined> {
    return (await this.#currentLicenses()).find((l) => l.id === id);
  }

  async listLicenses(): Promise<InstalledLicense[]> {
    return [...(await this.#currentLicenses())].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Every license as of now: one small read of license-rev, and the decrypted snapshot when it moved. */
  #currentLicenses(): Promise<readonly InstalledLicense[]> {
    return this.#optimistic(async () => {
      const { results } = await this.gateway.read([{ key: this.keys.licenseRev() }]);
      return (await this.#licensesAt(results[0]?.[0]?.modRevision ?? 0)).licenses;
    });
  }

  revokeLicense(id: string, now: number, audit?: AuditContext): Promise<InstalledLicense> {
    return this.#optimistic(async () => {
      const { results } = await this.gateway.read([{ key: this.keys.license(id) }]);
      const kv = results[0]?.[0];
      if (!kv) throw new LeaseholdError('LICENSE_NOT_FOUND', `no license "${id}" is installed`);
      const existing = decodeLicense(kv, this.#sealer());
      if (existing.revokedAt !== undefined) return existing;
      const revoked = { ...existing, revokedAt: now };
      await this.#commit(
        [{ key: kv.key, target: 'Mod', equals: kv.modRevision }],
        [
          { put: kv.key, value: encodeLicense(revoked, this.#sealer()) },
          { put: this.keys.licenseRev(), value: id },
          this.#pending(audit, 'license.revoked', `license:${id}`, now),
        ],
      );
      return revoked;
    });
  }

  // Seats ----------------------------------------------------------------------------------------

  acquireSeat(input: AcquireSeatInput): Promise<AcquireSeatResult> {
    const requestKey = this.keys.request(input.client.id, input.requestId);
    let round = 0;
    return this.#optimistic(async () => {
      if (round++ === 0) {
        const fast = await this.#blindCheckout(input, requestKey);
        if (fast) return { lease: fast, replayed: false };
      }
      const first = await this.gateway.read([{ key: requestKey }, { key: this.keys.licenseRev() }]);
      const granted = first.results[0]?.[0];
      if (granted) {
        const lease = await this.#readLease(granted.value.toString());
        if (!lease) throw new Conflict(); // purged between the two reads: read again
        assertSameCheckout(lease, input);
        return { lease, replayed: lease.id !== input.leaseId };
      }
      const licenseRev = first.results[1]?.[0]?.modRevision ?? 0;
      const { licenses, rev } = await this.#licensesAt(licenseRev);
      if (rev !== licenseRev) throw new Conflict();
      const candidates = checkoutCandidates(licenses, input.feature, input.licenseId, input.now);
      let seats = 0;
      for (const license of candidates) {
        const licensed = seatsFor(license, input.feature);
        seats += licensed;
        const granted = await this.#tryPool(license, licensed, input, requestKey, licenseRev);
        if (granted) return { lease: granted, replayed: false };
      }
      throw seatsExhausted(input.feature, seats);
    });
  }

  /**
   * The one-round-trip checkout for the common case: a large pool with free seats and licenses unchanged
   * since this node last read them. One transaction, no read before it: it compares the cached license
   * revision (so a revoked or changed license fails it), that the request id is new (so a retry never
   * takes a second seat), that a random slot is free, and that no leftover leases sit above the seat
   * count. Any failed compare returns undefined and the caller takes the careful path, which reads first.
   */
  async #blindCheckout(input: AcquireSeatInput, requestKey: string): Promise<Lease | undefined> {
    const cache = this.#licenseCache;
    if (cache.rev < 0) return undefined;
    let license: InstalledLicense | undefined;
    try {
      license = checkoutCandidates(cache.licenses, input.feature, input.licenseId, input.now)[0];
    } catch {
      return undefined; // a cached "no" is not trusted: the careful path decides with fresh data
    }
    const seats = license ? seatsFor(license, input.feature) : 0;
    if (!license || seats <= DENSE_POOL_MAX_SEATS) return undefined;
    const slot = Math.floor(this.#random() * seats);
    const lease = this.#newLease(license, input, slot);
    const pool = this.keys.pool(license.id, input.feature);
    const result = await this.gateway.txn(
      [
        { key: this.keys.licenseRev(), target: 'Mod', equals: cache.rev },
        { key: requestKey, target: 'Create', equals: 0 },
        { key: this.keys.slot(license.id, input.feature, slot), target: 'Create', equals: 0 },
        { key: this.keys.slot(license.id, input.feature, seats), within: pool, target: 'Create', equals: 0 },
      ],
      this.#grantWrites(lease, requestKey, input.audit),
    );
    return result.succeeded ? { ...lease, fence: result.revision } : undefined;
  }

  #newLease(license: InstalledLicense, input: AcquireSeatInput, slot: number): Lease {
    const window = leaseWindow(license.lease, input.now, license.expiresAt);
    return {
      id: input.leaseId,
      licenseId: license.id,
      feature: input.feature,
      slot,
      fence: 0,
      client: input.client,
      requestId: input.requestId,
      createdAt: input.now,
      renewedAt: input.now,
      expiresAt: window.expiresAt,
      reservedUntil: window.reservedUntil,
      graceMs: license.lease.graceMs,
      revokedAt: undefined,
      endedAt: undefined,
      endReason: undefined,
    };
  }

  #grantWrites(
    lease: Lease,
    requestKey: string,
    audit: AuditContext | undefined,
    extra: WriteOp[] = [],
  ): WriteOp[] {
    return [
      { put: this.keys.slot(lease.licenseId, lease.feature, lease.slot), value: lease.id },
      { put: this.keys.lease(lease.id), value: encodeLease(lease) },
      { put: requestKey, value: lease.id },
      this.#pending(audit, 'lease.granted', `lease:${lease.id}`, lease.createdAt, {
        ...leaseDetails(lease),
        client: lease.client.id,
      }),
      ...extra,
    ];
  }

  /** Tries to grant a seat of one pool; undefined when the pool is full at `input.now`. */
  async #tryPool(
    license: InstalledLicense,
    seats: number,
    input: AcquireSeatInput,
    requestKey: string,
    licenseRev: number,
  ): Promise<Lease | undefined> {
    const lease = this.#newLease(license, input, -1);
    const base: Compare[] = [
      { key: this.keys.licenseRev(), target: 'Mod', equals: licenseRev },
      { key: requestKey, target: 'Create', equals: 0 },
    ];
    const writesFor = (slot: number, extra: WriteOp[] = []) =>
      this.#grantWrites({ ...lease, slot }, requestKey, input.audit, extra);
    const grant = async (slot: number, compare: Compare[], extra: WriteOp[]): Promise<Lease> => {
      const fence = await this.#commit([...base, ...compare], writesFor(slot, extra));
      return { ...lease, slot, fence };
    };

    if (seats > DENSE_POOL_MAX_SEATS) {
      // Large pool: read only the slots above the seat count (downgrade leftovers, usually none), then try
      // creating random slot keys blindly. Reading a whole pool of thousands of live leases for every
      // checkout would make a checkout's cost grow with the pool.
      const poolPrefix = this.keys.pool(license.id, input.feature);
      const tail = await this.gateway.read([
        { from: this.keys.slot(license.id, input.feature, seats), within: poolPrefix },
      ]);
      const above = new Map((tail.results[0] ?? []).map((kv) => [this.keys.slotOf(kv.key), kv]));
      // Live leftovers (a downgrade) make any free slot below the count insufficient: the careful path counts.
      const probes = (await this.#liveLeftovers(above, seats, input.now)) > 0 ? 0 : 4;
      for (let probe = 0; probe < probes; probe++) {
        const slot = Math.floor(this.#random() * seats);
        const slotKey = this.keys.slot(license.id, input.feature, slot);
        const result = await this.gateway.txn(
          [...base, { key: slotKey, target: 'Create', equals: 0 }],
          writesFor(slot),
          [{ key: requestKey }, { key: slotKey }],
        );
        if (result.succeeded) return { ...lease, slot, fence: result.revision };
        const [requestSeen, slotSeen] = result.failure;
        // Not the slot (a retried request, a license change): decide again from a fresh read.
        if ((requestSeen?.length ?? 0) > 0 || (slotSeen?.length ?? 0) === 0) throw new Conflict();
      }
      // Four taken slots in a row: the pool is nearly full; look at all of it.
    }

    const poolPrefix = this.keys.pool(license.id, input.feature);
    const { results, revision } = await this.gateway.read([{ prefix: poolPrefix }]);
    const present = new Map((results[0] ?? []).map((kv) => [this.keys.slotOf(kv.key), kv]));
    const usable = seats;
    const guard: Compare[] = [];
    if ((await this.#liveLeftovers(present, seats, input.now)) > 0) {
      // After a downgrade live leases sit above the seat count, so a free slot below it is not a free seat:
      // count every live lease, and let the grant commit only if nothing in the pool changed since this
      // read (concurrent grants on this pool then serialize until the leftovers are gone).
      const holders = await this.gateway.getMany(
        [...present.values()].map((kv) => this.keys.lease(kv.value.toString())),
      );
      const live = holders.filter((kv) => kv && holdsSeat(decodeLease(kv), input.now)).length;
      if (live >= seats) return undefined;
      guard.push({ key: poolPrefix, within: poolPrefix, target: 'Mod', below: revision + 1 });
    }

    const slot = this.#randomFreeSlot(present, usable);
    if (slot !== undefined) {
      const slotKey = this.keys.slot(license.id, input.feature, slot);
      return grant(slot, [{ key: slotKey, target: 'Create', equals: 0 }, ...guard], []);
    }
    // Every usable slot is taken: take over one whose lease ran out, ending that lease in the same write.
    // In random order: concurrent checkouts on a full pool of expired leases then take over different slots.
    const taken = shuffle(
      [...present.entries()].filter(([slot]) => slot < usable),
      this.#random,
    );
    // Holders are read a chunk at a time and the first expired one is taken: a full pool of live leases
    // costs reading them all, a pool with expired ones usually one chunk.
    for (let i = 0; i < taken.length; i += 16) {
      const chunk = taken.slice(i, i + 16);
      const holders = await this.gateway.getMany(chunk.map(([, kv]) => this.keys.lease(kv.value.toString())));
      for (const [j, [slot, slotKv]] of chunk.entries()) {
        const holderKv = holders[j];
        const holder = holderKv && decodeLease(holderKv);
        if (holder && holdsSeat(holder, input.now)) continue;
        const compare: Compare[] = [{ key: slotKv.key, target: 'Mod', equals: slotKv.modRevision }];
        const extra: WriteOp[] = [];
        if (holder && holderKv) {
          compare.push({ key: holderKv.key, target: 'Mod', equals: holderKv.modRevision });
          if (holder.endReason === undefined) {
            extra.push(
              {
                put: holderKv.key,
                value: encodeLease(ended(holder, holder.reservedUntil, 'expired')),
              },
              this.#pending(
                { actor: 'system:expiry', node: this.#node },
                'lease.expired',
                `lease:${holder.id}`,
                input.now,
                leaseDetails(holder),
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
        const slot = Math.floor(this.#random() * usable);
        if (!present.has(slot)) return slot;
      }
    }
    const free: number[] = [];
    for (let slot = 0; slot < usable; slot++) if (!present.has(slot)) free.push(slot);
    return free.length === 0 ? undefined : free[Math.floor(this.#random() * free.length)];
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
    const holders = await this.gateway.getMany(above.map((id) => this.keys.lease(id)));
    return holders.filter((kv) => kv && holdsSeat(decodeLease(kv), now)).length;
  }

  async #readLease(id: string): Promise<Lease | undefined> {
    const { results } = await this.gateway.read([{ key: this.keys.lease(id) }]);
    const kv = results[0]?.[0];
    return kv && decodeLease(kv);
  }

  /** Reads a lease record (and the license revision) for an operation on it; applies the client scope. */
  async #leaseForUpdate(ref: LeaseRef): Promise<{ kv: KeyValue; lease: Lease; licenseRev: number }> {
    const { results } = await this.gateway.read([
      { key: this.keys.lease(ref.leaseId) },
      { key: this.keys.licenseRev() },
    ]);
    const kv = results[0]?.[0];
    const lease = kv && decodeLease(kv);
    if (!kv || !lease || (ref.licenseId !== undefined && lease.licenseId !== ref.licenseId)) {
      throw new LeaseholdError('LEASE_NOT_FOUND', `no lease "${ref.leaseId}"`);
    }
    return { kv, lease, licenseRev: results[1]?.[0]?.modRevision ?? 0 };
  }

  /** Compares that hold while a lease still owns its slot and its record is as read. */
  #owns(kv: KeyValue, lease: Lease): Compare[] {
    return [
      { key: kv.key, target: 'Mod', equals: kv.modRevision },
      { key: this.keys.slot(lease.licenseId, lease.feature, lease.slot), target: 'Value', equals: lease.id },
    ];
  }

  renewLease(input: LeaseRef): Promise<Lease> {
    return this.#optimistic(async () => {
      const { kv, lease, licenseRev } = await this.#leaseForUpdate(input);
      const { licenses, rev } = await this.#licensesAt(licenseRev);
      if (rev !== licenseRev) throw new Conflict();
      const license = licenses.find((l) => l.id === lease.licenseId);
      assertRenewable(lease, license, input.now);
      if (!license) throw new LeaseholdError('LICENSE_NOT_FOUND');
      const window = leaseWindow(license.lease, input.now, license.expiresAt);
      const renewed: Lease = {
        ...lease,
        renewedAt: input.now,
        expiresAt: Math.max(window.expiresAt, lease.expiresAt),
        reservedUntil: Math.max(window.reservedUntil, lease.reservedUntil),
        graceMs: license.lease.graceMs,
      };
      await this.#commit(
        [...this.#owns(kv, lease), { key: this.keys.licenseRev(), target: 'Mod', equals: licenseRev }],
        [{ put: kv.key, value: encodeLease(renewed) }],
      );
      return renewed;
    });
  }

  releaseSeat(input: LeaseRef): Promise<Lease> {
    return this.#optimistic(async () => {
      const { kv, lease } = await this.#leaseForUpdate(input);
      if (lease.endReason !== undefined) return lease;
      const result =
        input.now >= lease.reservedUntil
          ? ended(lease, lease.reservedUntil, 'expired')
          : ended(lease, input.now, 'released');
      await this.#end(kv, lease, result, input.audit, input.now);
      return result;
    });
  }

  forceRelease(input: ForceReleaseInput): Promise<Lease> {
    return this.#optimistic(async () => {
      const { kv, lease } = await this.#leaseForUpdate(input);
      if (lease.endReason !== undefined) return lease;
      if (input.now >= lease.reservedUntil) {
        const result = ended(lease, lease.reservedUntil, 'expired');
        await this.#end(kv, lease, result, input.audit, input.now);
        return result;
      }
      const revoked: Lease = { ...lease, revokedAt: lease.revokedAt ?? input.now };
      if (input.immediate) {
        const result = ended(revoked, input.now, 'revoked');
        await this.#end(kv, lease, result, input.audit, input.now);
        return result;
      }
      await this.#commit(this.#owns(kv, lease), [
        { put: kv.key, value: encodeLease(revoked) },
        ...(lease.revokedAt === undefined
          ? [
              this.#pending(input.audit, 'lease.force-released', `lease:${lease.id}`, input.now, {
                ...leaseDetails(lease),
                immediate: false,
              }),
            ]
          : []),
      ]);
      return revoked;
    });
  }

  /** Writes a lease's end and frees its slot, in one transaction. */
  async #end(
    kv: KeyValue,
    lease: Lease,
    result: Lease,
    audit: AuditContext | undefined,
    now: number,
  ): Promise<void> {
    const action: AuditAction =
      result.endReason === 'released'
        ? 'lease.released'
        : result.endReason === 'expired'
          ? 'lease.expired'
          : 'lease.force-released';
    await this.#commit(this.#owns(kv, lease), [
      { put: kv.key, value: encodeLease(result) },
      { delete: this.keys.slot(lease.licenseId, lease.feature, lease.slot) },
      this.#pending(audit, action, `lease:${lease.id}`, now, {
        ...leaseDetails(lease),
        ...(result.endReason === 'revoked' ? { immediate: true } : {}),
      }),
    ]);
  }

  getLease(id: string): Promise<Lease | undefined> {
    return this.#optimistic(() => this.#readLease(id));
  }

  async listLeases(query: LeaseQuery): Promise<Lease[]> {
    const leases = query.includeEnded ? await this.#allLeases() : await this.#liveLeases();
    return leases
      .filter((l) => query.includeEnded || holdsSeat(l, query.now))
      .filter((l) => query.licenseId === undefined || l.licenseId === query.licenseId)
      .filter((l) => query.feature === undefined || l.feature === query.feature)
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
      .slice(0, query.limit ?? 10_000);
  }

  async #allLeases(): Promise<Lease[]> {
    const { results } = await this.#optimistic(() => this.gateway.read([{ prefix: this.keys.leases() }]));
    return (results[0] ?? []).map(decodeLease);
  }

  /** Leases that hold a slot key (live, or overdue and not yet swept), with their slot kvs. */
  async #liveLeaseEntries(): Promise<{ lease: Lease; kv: KeyValue }[]> {
    return this.#optimistic(async () => {
      const slots = await this.gateway.read([{ prefix: this.keys.slots() }]);
      const ids = (slots.results[0] ?? []).map((kv) => kv.value.toString());
      const records = await this.gateway.getMany(ids.map((id) => this.keys.lease(id)));
      return records.flatMap((kv) => (kv ? [{ kv, lease: decodeLease(kv) }] : []));
    });
  }

  async #liveLeases(): Promise<Lease[]> {
    return (await this.#liveLeaseEntries()).map((e) => e.lease);
  }

  async seatUsage(now: number): Promise<SeatUsage[]> {
    const [licenses, live] = await Promise.all([this.listLicenses(), this.#liveLeases()]);
    return licenses.flatMap((license) =>
      license.entitlements.map((e) => ({
        licenseId: license.id,
        feature: e.feature,
        seats: e.seats,
        inUse: live.filter((l) => l.licenseId === license.id && l.feature === e.feature && holdsSeat(l, now))
          .length,
      })),
    );
  }

  async expireLeases(now: number, limit: number, audit?: AuditContext): Promise<Lease[]> {
    const overdue = (await this.#liveLeaseEntries())
      .filter(({ lease }) => lease.endReason === undefined && now >= lease.reservedUntil)
      .sort((a, b) => a.lease.reservedUntil - b.lease.reservedUntil)
      .slice(0, limit);
    const expired: Lease[] = [];
    for (const { kv, lease } of overdue) {
      const result = ended(lease, lease.reservedUntil, 'expired');
      try {
        await this.#optimistic(() => this.#end(kv, lease, result, audit, now));
        expired.push(result);
      } catch (err) {
        // Someone else ended or renewed it first (or etcd is away): the next sweep looks again.
        if (!(err instanceof LeaseholdError)) throw err;
      }
    }
    return expired;
  }

  async purgeEndedLeases(before: number): Promise<number> {
    const { results } = await this.#optimistic(() => this.gateway.read([{ prefix: this.keys.leases() }]));
    let purged = 0;
    for (const kv of results[0] ?? []) {
      const lease = decodeLease(kv);
      if (lease.endedAt === undefined || lease.endedAt >= before) continue;
      const done = await this.gateway
        .txn(
          [{ key: kv.key, target: 'Mod', equals: kv.modRevision }],
          [{ delete: kv.key }, { delete: this.keys.request(lease.client.id, lease.requestId) }],
        )
        .catch(() => ({ succeeded: false }));
      if (done.succeeded) purged++;
    }
    return purged;
  }

  // Signing keys ---------------------------------------------------------------------------------

  ensureSigningKey(candidate: StoredSigningKey): Promise<StoredSigningKey[]> {
    return this.#optimistic(async () => {
      const existing = await this.listSigningKeys();
      if (existing.length > 0) return existing;
      // Create-if-absent on a fixed marker key, so two nodes starting at once keep one key between them.
      const marker = `${this.keys.signingKeys()}~first`;
      await this.#commit(
        [{ key: marker, target: 'Create', equals: 0 }],
        [
          { put: marker, value: candidate.kid },
          {
            put: this.keys.signingKey(candidate.kid),
            value: JSON.stringify(sealSigningKey(candidate, this.#sealer())),
          },
        ],
      );
      return [candidate];
    });
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    const { results } = await this.#optimistic(() =>
      this.gateway.read([{ prefix: this.keys.signingKeys() }]),
    );
    return (results[0] ?? [])
      .filter((kv) => !kv.key.endsWith('~first'))
      .map((kv) => openSigningKey(decodeJson<StoredSigningKey>(kv), this.#sealer()))
      .sort((a, b) => b.createdAt - a.createdAt || a.kid.localeCompare(b.kid));
  }

  // Tokens ---------------------------------------------------------------------------------------

  createToken(record: ApiTokenRecord, audit?: AuditContext): Promise<ApiTokenRecord> {
    return this.#optimistic(async () => {
      const { results } = await this.gateway.read([{ key: this.keys.tokenHash(record.hash) }]);
      const existing = results[0]?.[0];
      if (existing) {
        const found = decodeJson<ApiTokenRecord>(existing);
        if (found.id === record.id) return found; // our own earlier attempt
        throw new LeaseholdError('VALIDATION_FAILED', 'a token with this secret exists already');
      }
      await this.#commit(
        [
          { key: this.keys.tokenHash(record.hash), target: 'Create', equals: 0 },
          { key: this.keys.token(record.id), target: 'Create', equals: 0 },
        ],
        [
          { put: this.keys.tokenHash(record.hash), value: JSON.stringify(record) },
          { put: this.keys.token(record.id), value: record.hash },
          this.#tokenPending(audit, 'token.created', record, record.createdAt),
        ],
      );
      return record;
    });
  }

  replaceNamedToken(
    record: ApiTokenRecord & { readonly name: string },
    audit?: AuditContext,
  ): Promise<ApiTokenRecord> {
    return this.#optimistic(async () => {
      const { results } = await this.gateway.read([{ prefix: this.keys.tokenHashes() }]);
      const all = (results[0] ?? []).map((kv) => ({ kv, token: decodeJson<ApiTokenRecord>(kv) }));
      const writes: WriteOp[] = [];
      const compare: Compare[] = [];
      for (const { kv, token } of all) {
        if (token.name !== record.name || token.hash === record.hash || token.revokedAt !== undefined)
          continue;
        compare.push({ key: kv.key, target: 'Mod', equals: kv.modRevision });
        writes.push(
          { put: kv.key, value: JSON.stringify({ ...token, revokedAt: record.createdAt }) },
          this.#tokenPending(audit, 'token.revoked', token, record.createdAt),
        );
      }
      const same = all.find(({ token }) => token.hash === record.hash);
      let live: ApiTokenRecord = record;
      if (same && same.token.revokedAt === undefined) {
        live = same.token;
      } else {
        compare.push({
          key: this.keys.tokenHash(record.hash),
          target: 'Mod',
          equals: same?.kv.modRevision ?? 0,
        });
        writes.push(
          { put: this.keys.tokenHash(record.hash), value: JSON.stringify(record) },
          { put: this.keys.token(record.id), value: record.hash },
          this.#tokenPending(audit, 'token.created', record, record.createdAt),
        );
        if (same) writes.push({ delete: this.keys.token(same.token.id) });
      }
      if (writes.length > 0) await this.#commit(compare, writes);
      return live;
    });
  }

  async findTokenByHash(hash: string): Promise<ApiTokenRecord | undefined> {
    const { results } = await this.#optimistic(() => this.gateway.read([{ key: this.keys.tokenHash(hash) }]));
    const kv = results[0]?.[0];
    return kv && decodeJson<ApiTokenRecord>(kv);
  }

  async listTokens(): Promise<ApiTokenRecord[]> {
    const { results } = await this.#optimistic(() =>
      this.gateway.read([{ prefix: this.keys.tokenHashes() }]),
    );
    return (results[0] ?? [])
      .map((kv) => decodeJson<ApiTokenRecord>(kv))
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  revokeToken(id: string, now: number, audit?: AuditContext): Promise<ApiTokenRecord> {
    return this.#optimistic(async () => {
      const pointer = await this.gateway.read([{ key: this.keys.token(id) }]);
      const hash = pointer.results[0]?.[0]?.value.toString();
      if (!hash) throw new LeaseholdError('TOKEN_NOT_FOUND', `no API token "${id}"`);
      const { results } = await this.gateway.read([{ key: this.keys.tokenHash(hash) }]);
      const kv = results[0]?.[0];
      if (!kv) throw new Conflict();
      const token = decodeJson<ApiTokenRecord>(kv);
      if (token.revokedAt !== undefined) return token;
      const revoked = { ...token, revokedAt: now };
      await this.#commit(
        [{ key: kv.key, target: 'Mod', equals: kv.modRevision }],
        [
          { put: kv.key, value: JSON.stringify(revoked) },
          this.#tokenPending(audit, 'token.revoked', token, now),
        ],
      );
      return revoked;
    });
  }

  #tokenPending(
    audit: AuditContext | undefined,
    action: AuditAction,
    token: ApiTokenRecord,
    now: number,
  ): WriteOp {
    return this.#pending(audit, action, `token:${token.id}`, now, {
      scope: token.scope,
      ...(token.licenseId !== undefined ? { license: token.licenseId } : {}),
      ...(token.name !== undefined ? { name: token.name } : {}),
    });
  }

  // Audit trail ----------------------------------------------------------------------------------

  recordAudit(event: AuditEvent): Promise<void> {
    // One key for every attempt, written only if absent: a retry after an unknown outcome finds the first
    // attempt's record instead of adding a second one.
    const write = this.#audit.pendingWrite(event);
    return this.#optimistic(async () => {
      await this.gateway.txn([{ key: write.put, target: 'Create', equals: 0 }], [write]);
    });
  }

  sealAudit(limit: number): Promise<AuditSealResult> {
    return this.#optimistic(() => this.#audit.seal(limit).catch(auditConflict));
  }

  auditStatus(): Promise<AuditStatus> {
    return this.#optimistic(() => this.#audit.status());
  }

  auditEntries(query: AuditQuery): Promise<AuditEntry[]> {
    return this.#optimistic(() => this.#audit.entries(query));
  }

  pendingAudit(limit: number): Promise<AuditEvent[]> {
    return this.#optimistic(() => this.#audit.pending(limit));
  }

  saveAuditCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.#optimistic(() => this.#audit.saveCheckpoint(checkpoint));
  }

  listAuditCheckpoints(): Promise<StoredCheckpoint[]> {
    return this.#optimistic(() => this.#audit.checkpoints());
  }

  async pruneAudit(throughSeq: number): Promise<AuditHead> {
    for (;;) {
      const anchor = await this.#optimistic(() => this.#audit.pruneBatch(throughSeq).catch(auditConflict));
      if (anchor.seq >= throughSeq) return anchor;
    }
  }
}

/** Turns the audit module's compare failure into this store's Conflict (re-read and retry). */
function auditConflict(err: unknown): never {
  throw err instanceof AuditConflict ? new Conflict() : err;
}

function leaseDetails(lease: Lease): { license: string; feature: string; slot: number } {
  return { license: lease.licenseId, feature: lease.feature, slot: lease.slot };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function ended(lease: Lease, at: number, reason: LeaseEndReason): Lease {
  return { ...lease, endedAt: at, endReason: reason };
}
