import { randomUUID } from 'node:crypto';
import { LeaseholdError } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { license, T0 } from './fixtures.js';

/**
 * Model-based test of the seat logic (fast-check `asyncModelRun`): random sequences of checkout, retried
 * checkout, renewal, check-in, force-release, sweeps and clock advances run against the real store and
 * against a few lines of obviously-correct model. After every step: no pool holds more seats than it
 * has, the store holds exactly the seats the model says (no leak, no phantom), and one request id never
 * maps to two leases.
 */
const SEATS: Record<string, number> = { alpha: 2, beta: 3 };
const FEATURES = Object.keys(SEATS);
const TTL = 60_000;
const GRACE = 10_000;

interface ModelLease {
  id: string;
  feature: string;
  reservedUntil: number;
  ended: 'released' | 'revoked' | undefined;
  revoked: boolean;
}

interface Model {
  now: number;
  byRequest: Map<string, ModelLease>;
  leases: ModelLease[];
}

interface Real {
  store: LeaseStore;
}

const live = (m: Model, feature: string) =>
  m.leases.filter((l) => l.feature === feature && l.ended === undefined && m.now < l.reservedUntil).length;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof LeaseholdError) return err.code;
    throw err;
  }
}

async function checkInvariants(m: Model, r: Real): Promise<void> {
  const leases = await r.store.listLeases({ now: m.now });
  for (const feature of FEATURES) {
    const held = leases.filter((l) => l.feature === feature);
    expect(held.length).toBeLessThanOrEqual(SEATS[feature] ?? 0);
    expect(held.length).toBe(live(m, feature));
    expect(new Set(held.map((l) => l.slot)).size).toBe(held.length);
  }
}

class Checkout implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly clientNo: number,
    readonly requestNo: number,
    readonly feature: string,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const key = `c${this.clientNo}/r${this.requestNo}`;
    const known = m.byRequest.get(key);
    const call = r.store.acquireSeat({
      leaseId: randomUUID(),
      requestId: `r${this.requestNo}`,
      feature: this.feature,
      client: { id: `c${this.clientNo}` },
      now: m.now,
    });
    if (known && known.feature !== this.feature) {
      expect(await codeOf(call)).toBe('REQUEST_ID_CONFLICT');
    } else if (known) {
      const { lease, replayed } = await call;
      expect(replayed).toBe(true);
      expect(lease.id).toBe(known.id);
    } else if (live(m, this.feature) < (SEATS[this.feature] ?? 0)) {
      const { lease, replayed } = await call;
      expect(replayed).toBe(false);
      expect(lease.reservedUntil).toBe(m.now + TTL + GRACE);
      const entry: ModelLease = {
        id: lease.id,
        feature: this.feature,
        reservedUntil: lease.reservedUntil,
        ended: undefined,
        revoked: false,
      };
      m.byRequest.set(key, entry);
      m.leases.push(entry);
    } else {
      expect(await codeOf(call)).toBe('SEATS_EXHAUSTED');
    }
    await checkInvariants(m, r);
  }
  toString = () => `checkout(c${this.clientNo}, r${this.requestNo}, ${this.feature})`;
}

abstract class OnLease implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.leases.length > 0;
  protected target(m: Model): ModelLease {
    return m.leases[this.pick % m.leases.length]!;
  }
  abstract run(m: Model, r: Real): Promise<void>;
}

class Renew extends OnLease {
  async run(m: Model, r: Real): Promise<void> {
    const l = this.target(m);
    const call = r.store.renewLease({ leaseId: l.id, now: m.now });
    const expected =
      l.ended === 'released'
        ? 'LEASE_RELEASED'
        : l.ended === 'revoked' || (l.revoked && m.now < l.reservedUntil)
          ? 'LEASE_REVOKED'
          : m.now >= l.reservedUntil
            ? 'LEASE_EXPIRED'
            : undefined;
    if (expected) {
      expect(await codeOf(call)).toBe(expected);
    } else {
      const renewed = await call;
      l.reservedUntil = Math.max(l.reservedUntil, m.now + TTL + GRACE);
      expect(renewed.reservedUntil).toBe(l.reservedUntil);
    }
    await checkInvariants(m, r);
  }
  override toString = () => `renew(#${this.pick})`;
}

class Release extends OnLease {
  async run(m: Model, r: Real): Promise<void> {
    const l = this.target(m);
    await r.store.releaseSeat({ leaseId: l.id, now: m.now });
    if (l.ended === undefined && m.now < l.reservedUntil) l.ended = 'released';
    await checkInvariants(m, r);
  }
  override toString = () => `release(#${this.pick})`;
}

class ForceRelease extends OnLease {
  constructor(
    pick: number,
    readonly immediate: boolean,
  ) {
    super(pick);
  }
  async run(m: Model, r: Real): Promise<void> {
    const l = this.target(m);
    await r.store.forceRelease({ leaseId: l.id, immediate: this.immediate, now: m.now });
    if (l.ended === undefined && m.now < l.reservedUntil) {
      l.revoked = true;
      if (this.immediate) l.ended = 'revoked';
    }
    await checkInvariants(m, r);
  }
  override toString = () => `forceRelease(#${this.pick}, immediate=${this.immediate})`;
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.now += this.ms;
    await checkInvariants(m, r);
  }
  toString = () => `advance(${this.ms}ms)`;
}

class Sweep implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const swept = await r.store.expireLeases(m.now, 1000);
    for (const l of swept) expect(l.reservedUntil).toBeLessThanOrEqual(m.now);
    await checkInvariants(m, r);
  }
  toString = () => 'sweep()';
}

const commands = [
  fc
    .tuple(fc.nat(4), fc.nat(6), fc.constantFrom(...FEATURES))
    .map(([c, q, f]) => new Checkout(c, q, f) as fc.AsyncCommand<Model, Real>),
  fc.nat(20).map((p) => new Renew(p)),
  fc.nat(20).map((p) => new Release(p)),
  fc.tuple(fc.nat(20), fc.boolean()).map(([p, i]) => new ForceRelease(p, i)),
  fc
    .oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 50_000, max: 80_000 }))
    .map((ms) => new Advance(ms)),
  fc.constant(new Sweep()),
];

export function describeSeatModel(open: () => Promise<LeaseStore>): void {
  describe('seat model (fast-check)', () => {
    it('never oversubscribes, never leaks a seat, never grants twice for one request id', async () => {
      await fc.assert(
        fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
          // A fresh, empty store per run: runs must not see each other's request ids.
          const store = await open();
          try {
            await store.installLicense(
              await license({ seats: SEATS, lease: { ttlMs: TTL, graceMs: GRACE, policy: 'strict' } }),
              T0,
            );
            const model: Model = { now: T0, byRequest: new Map(), leases: [] };
            await fc.asyncModelRun(() => ({ model, real: { store } }), cmds);
          } finally {
            await store.close();
          }
        }),
        { numRuns: 60 },
      );
    });
  });
}
