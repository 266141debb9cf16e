import type { FakeCluster } from '@leasehold/client/testing';
import { describe, expect, it } from 'vitest';
import { type Harness, harness } from './support/harness.js';

const TTL = 60_000;

/** An edge site's refusals (docs/replication.md "Edge sites"), as its problem+json answers them. */
const EDGE_ANSWERS = {
  SEAT_BLOCK_FULL: { status: 409, retryable: false },
  SEAT_BLOCK_EXPIRED: { status: 503, retryable: true },
} as const;
type EdgeCode = keyof typeof EDGE_ANSWERS;

/**
 * A client on a fake cluster whose nodes answer checkouts and renewals with `refusal.code` while it is
 * set, like an edge whose block is fully lent (or shrank), or ran out during a WAN cut.
 */
async function edgeHarness(seats: number): Promise<{ h: Harness; refusal: { code: EdgeCode | undefined } }> {
  const refusal: { code: EdgeCode | undefined } = { code: undefined };
  const holder: { fake?: FakeCluster } = {};
  const h = await harness(
    { ttlSeconds: 60, graceSeconds: 300, policy: 'strict', features: { app: seats } },
    {
      fetch: async (url, init) => {
        const path = new URL(url).pathname;
        const seatCall = init?.method === 'POST' && (path === '/v1/leases' || path.endsWith('/renew'));
        if (refusal.code !== undefined && seatCall) {
          const { status, retryable } = EDGE_ANSWERS[refusal.code];
          const body = { type: `urn:leasehold:error:${refusal.code}`, title: refusal.code, status };
          return new Response(JSON.stringify({ ...body, code: refusal.code, retryable, detail: 'edge' }), {
            status,
            headers: { 'content-type': 'application/problem+json' },
          });
        }
        if (!holder.fake) throw new Error('no fake cluster yet');
        return holder.fake.fetch(url, init);
      },
    },
  );
  holder.fake = h.cluster;
  return { h, refusal };
}

describe('leases against an edge site', () => {
  it('SEAT_BLOCK_FULL: a waiting checkout keeps asking like SEATS_EXHAUSTED, and a refused renewal asks anew', async () => {
    // Two seats in the fake: the refused lease keeps its seat there until its expiry and grace, as an
    // edge's lease runs out at its old deadline.
    const { h, refusal } = await edgeHarness(2);
    const lease = await h.clock.run(h.client.checkout('app'));
    const first = lease.id;
    // The block shrank below the leases it holds: the edge renews this one no more.
    refusal.code = 'SEAT_BLOCK_FULL';
    await h.clock.advance(TTL / 2 + 1000);
    // The renewal's refusal made a new checkout, refused too: the feature is locked, not closed.
    expect(lease.status).toBe('lost');
    expect(h.events.find((e) => e.event === 'lost')?.payload).toMatchObject({
      reason: 'seats-exhausted',
      final: false,
    });
    const asked = h.cluster.requests.length;
    await h.clock.advance(120_000);
    // It kept asking (bounded by its backoff), and the lease is still waiting rather than closed.
    expect(lease.status).toBe('lost');
    expect(h.cluster.requests.length).toBe(asked); // refused before reaching the fake's own nodes
    // The block has room again: the next try gets a seat.
    refusal.code = undefined;
    await h.clock.advance(31_000);
    expect(lease.status).toBe('active');
    expect(lease.id).not.toBe(first);
    expect(h.names()).toEqual(['lost', 'replaced', 'restored']);
  });

  it('SEAT_BLOCK_EXPIRED (503, retryable): a renewal rides it out on the token like no answer at all', async () => {
    const { h, refusal } = await edgeHarness(1);
    const lease = await h.clock.run(h.client.checkout('app'));
    refusal.code = 'SEAT_BLOCK_EXPIRED';
    await h.clock.advance(TTL / 2 + 1000);
    // Every node refused with a retryable code: degraded, still entitled by the signed token and grace.
    expect(lease.status).toBe('degraded');
    expect(lease.entitled).toBe(true);
    refusal.code = undefined;
    await h.clock.advance(31_000);
    expect(lease.status).toBe('active');
    expect(h.names()).toEqual(['degraded', 'restored']);
  });
});
