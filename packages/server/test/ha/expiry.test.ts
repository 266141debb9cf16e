import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevCluster, startVendorCluster } from '@leasehold/devtools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Invariant 4 on etcd: a client that stops renewing loses its seat by itself, and we measure how long
 * after its lease's expiry the seat goes to someone else — with and without an etcd leader change in
 * between (etcd-lease-based expiry would be stretched by a leader change; stored deadlines are not).
 * The waiting client polls every 50 ms, so the measured delay includes up to one poll interval.
 *
 * The nodes run with the default clock margin (maxClockSkewMs 1000, docs/ha.md "Expiry"): the seat must
 * not go to the waiting client before the expiry plus the margin, and the measured delay is after that.
 * All but one: node-2, where the waiting client asks, is configured with no margin at all, as a node left
 * with a stale setting would be. It must adopt the widest margin its peers announce, so the seat still
 * waits out the 1 s there.
 */
const TTL_SECONDS = 5;
const POLL_MS = 50;
const MARGIN_MS = 1000;

describe('expiry on a 3-node etcd cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-expiry-'));
  let cluster: DevCluster;
  let auth: Record<string, string>;

  beforeAll(async () => {
    const started = await startVendorCluster(dir, {
      nodeEnv: { LEASEHOLD_MAX_CLOCK_SKEW_MS: String(MARGIN_MS) },
      nodeEnvByName: { 'node-2': { LEASEHOLD_MAX_CLOCK_SKEW_MS: '0' } },
    });
    cluster = started.cluster;
    const { vendor } = started;
    auth = { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json' };
    const license = await vendor.issue({
      features: { quiet: { seats: 1 }, stormy: { seats: 1 } },
      lease: { ttl: TTL_SECONDS, grace: 0, policy: 'strict' },
    });
    const res = await fetch(`${cluster.urls()[0]}/v1/licenses`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ license }),
    });
    expect(res.status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const checkout = async (url: string, feature: string, client: string, requestId = randomUUID()) => {
    const res = await fetch(`${url}/v1/leases`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ feature, client: { id: client }, requestId }),
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    return res
      ? { status: res.status, body: (await res.json()) as { expiresAt: string; code?: string } }
      : undefined;
  };

  /** Client A takes the seat through node 1 and goes silent; B asks node 2 until it gets the seat. */
  async function measureTakeover(feature: string, duringWait?: () => Promise<void>): Promise<number> {
    const [first, second] = cluster.urls();
    const held = await checkout(first ?? '', feature, 'silent-client');
    expect(held?.status).toBe(201);
    const expiresAt = Date.parse(held?.body.expiresAt ?? '');
    const fault = duringWait?.();
    // bound TTL + 15 s: the seat came back 34-266 ms after the expiry in every run measured (see below).
    const deadline = Date.now() + TTL_SECONDS * 1000 + 15_000;
    let grantedAt: number | undefined;
    // Bounded by the deadline; one attempt per poll interval.
    while (Date.now() < deadline) {
      const attempt = await checkout(second ?? '', feature, 'waiting-client');
      if (attempt?.status === 201) {
        grantedAt = Date.now();
        break;
      }
      if (attempt && attempt.status !== 409 && attempt.status !== 503)
        throw new Error(`unexpected ${attempt.status}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    await fault;
    expect(grantedAt, 'the seat came back').toBeDefined();
    // Never before the silent client's token expired, nor within the clock margin after it: that would be
    // a second client on a seat its holder may still use (with clocks up to the margin apart).
    expect(grantedAt ?? 0).toBeGreaterThanOrEqual(expiresAt + MARGIN_MS);
    return (grantedAt ?? 0) - expiresAt - MARGIN_MS;
  }

  it("a node configured with a narrower margin hands seats over after its peers' wider one", async () => {
    const [, second] = cluster.urls();
    const view = (await (await fetch(`${second}/v1/cluster`, { headers: auth })).json()) as {
      maxClockSkewMs: number;
      clockMarginInForceMs: number;
      nodes: { id: string; maxClockSkewMs?: number }[];
    };
    expect(view.maxClockSkewMs).toBe(0);
    expect(view.clockMarginInForceMs).toBe(MARGIN_MS);
    expect(Object.fromEntries(view.nodes.map((n) => [n.id, n.maxClockSkewMs]))).toEqual({
      'node-1': MARGIN_MS,
      'node-2': 0,
      'node-3': MARGIN_MS,
    });
    const metrics = await (await fetch(`${second}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/leasehold_clock_margin_seconds\{kind="configured"\} 0\b/);
    expect(metrics).toMatch(/leasehold_clock_margin_seconds\{kind="in_force"\} 1\b/);
  });

  it("frees a silent client's seat at its expiry, and an etcd leader change does not stretch it", async () => {
    const quiet = await measureTakeover('quiet');
    const stormy = await measureTakeover('stormy', async () => {
      await new Promise((r) => setTimeout(r, (TTL_SECONDS * 1000) / 2));
      const leader = await cluster.etcd.leader();
      await cluster.etcd.kill(leader.name, 'SIGKILL');
      await cluster.etcd.restart(leader.name);
    });
    console.log(
      `expiry: seat reassigned ${quiet} ms after the silent client's expiry + the ${MARGIN_MS} ms margin (no fault); ` +
        `${stormy} ms with an etcd leader SIGKILL during the TTL (TTL ${TTL_SECONDS} s, poll ${POLL_MS} ms)`,
    );
    // The bound (after the margin): one poll interval plus one request, generously; a TTL-sized stretch
    // would fail this. With the margin, measured 62 ms quiet (1 run on 2026-12-06, one failing run before
    // the margin was subtracted here: 1062 ms from the expiry).
    // bound 1000 ms: worst measured 84 ms quiet, 67 ms stormy (4 runs on 2026-12-06, one beside a CPU-bound
    // process); the worst recorded, 266 ms quiet and 134 ms stormy (docs/ha.md).
    expect(quiet).toBeLessThan(1000);
    expect(stormy).toBeLessThan(1000);
  }, 90_000);
});
