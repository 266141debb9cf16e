import { ManualClock } from '@leasehold/domain';
import { type BlockRequest, SeatBlockKeeper } from '@leasehold/server/internal';
import { describe, expect, it } from 'vitest';

const T0 = Date.UTC(2026, 0, 1);
const TTL = 60_000;

/** A primary whose answers take `oneWayMs` each way on the manual clock; it holds what it is asked for. */
function slowPrimary(clock: ManualClock, oneWayMs: number, grant = (asked: number) => asked) {
  const calls: { request: BlockRequest; arrivedAt: number; heldUntil: number }[] = [];
  return {
    calls,
    upstream: {
      async holdBlock(request: BlockRequest) {
        await clock.advance(oneWayMs);
        const arrivedAt = clock.now();
        const heldUntil = arrivedAt + request.holdMs;
        calls.push({ request, arrivedAt, heldUntil });
        await clock.advance(oneWayMs);
        return { seats: grant(request.seats), heldForMs: request.holdMs, heldUntil };
      },
      uploadAudit: async () => ({ seq: 0, hash: '0'.repeat(64) }),
    },
  };
}

const keeperWith = (clock: ManualClock, upstream: ReturnType<typeof slowPrimary>['upstream'], live = 0) =>
  new SeatBlockKeeper({
    site: 'edge-a',
    blocks: [{ licenseId: 'lic-1', feature: 'solver', seats: 4 }],
    blockTtlMs: TTL,
    upstream,
    store: { seatUsage: async () => [{ licenseId: 'lic-1', feature: 'solver', seats: 10, inUse: live }] },
    clock,
    newId: () => 'req',
  });

describe('SeatBlockKeeper', () => {
  it("counts the block from the request's send time, so the edge stops before the primary however slow the answer", async () => {
    const clock = new ManualClock(T0);
    const primary = slowPrimary(clock, 700);
    const keeper = keeperWith(clock, primary.upstream);
    expect(keeper.capFor('lic-1', 'solver', clock.now())).toEqual({ seats: 4, until: clock.now() });
    await keeper.renewDue();
    const held = primary.calls[0];
    if (!held) throw new Error('no call');
    const cap = keeper.capFor('lic-1', 'solver', clock.now());
    expect(cap.seats).toBe(4);
    // Sent at T0, answered at T0 + 1400: the edge's deadline is T0 + TTL less the 1% margin...
    expect(cap.until).toBe(T0 + TTL - TTL / 100);
    // ...before the primary's, which started when the request arrived.
    expect(cap.until).toBeLessThan(held.heldUntil);
    expect(keeper.capFor('lic-1', 'other', clock.now())).toEqual({ seats: 0, until: 0 });
  });

  it('renews at a third of the TTL, stays due after a failure, and keeps counting down meanwhile', async () => {
    const clock = new ManualClock(T0);
    const primary = slowPrimary(clock, 10);
    let down = false;
    const upstream = {
      ...primary.upstream,
      holdBlock: async (request: BlockRequest) => {
        if (down) throw new Error('cut');
        return primary.upstream.holdBlock(request);
      },
    };
    const keeper = keeperWith(clock, upstream);
    await keeper.renewDue();
    await clock.advance(TTL / 3 - 100);
    await keeper.renewDue();
    expect(primary.calls).toHaveLength(1);
    await clock.advance(100);
    down = true;
    await expect(keeper.renewDue()).rejects.toThrow('cut');
    expect(keeper.status()[0]?.lastError).toBe('cut');
    const during = keeper.capFor('lic-1', 'solver', clock.now());
    expect(during.until - clock.now()).toBe(TTL - TTL / 100 - (clock.monotonic() - 0));
    down = false;
    await keeper.renewDue();
    expect(primary.calls).toHaveLength(2);
    expect(keeper.status()[0]?.lastError).toBeUndefined();
  });

  it('takes what the primary grants of a grow, and shrinks its lending before asking, never below live leases', async () => {
    const clock = new ManualClock(T0);
    const primary = slowPrimary(clock, 1, (asked) => Math.min(asked, 3));
    let live = 0;
    const keeper = new SeatBlockKeeper({
      site: 'edge-a',
      blocks: [{ licenseId: 'lic-1', feature: 'solver', seats: 4 }],
      blockTtlMs: TTL,
      upstream: primary.upstream,
      store: { seatUsage: async () => [{ licenseId: 'lic-1', feature: 'solver', seats: 10, inUse: live }] },
      clock,
      newId: () => 'req',
    });
    await keeper.renewDue();
    expect(keeper.status()[0]).toMatchObject({ wanted: 4, seats: 3 });
    live = 2;
    keeper.setWanted('lic-1', 'solver', 1);
    await keeper.renewDue();
    expect(primary.calls.at(-1)?.request.seats).toBe(2);
    expect(keeper.status()[0]).toMatchObject({ wanted: 1, seats: 2 });
    expect(() => keeper.setWanted('lic-1', 'nope', 1)).toThrow(TypeError);
  });
});
