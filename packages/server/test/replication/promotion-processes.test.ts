import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, isLeaseholdClientError, type Lease, type LeaseholdClient } from '@leasehold/client';
import { FaultProxy } from '@leasehold/client/testing';
import { type NodeProcess, pollUntil, spawnNode } from '@leasehold/devtools';
import { afterAll, describe, expect, it } from 'vitest';
import { peakHeld, type RecordedGrant } from '../edge/grant-checker.js';
import { ADMIN_HEADERS, startLicensedPrimary } from '../helpers/licensed-primary.js';

/**
 * Promotion of a DR replica with the old primary partitioned but alive (issue 12 item 3,
 * docs/replication.md "Promotion"), on real processes: an embedded primary P behind a TCP fault proxy
 * (every client and the replica reach P only through it) and a replica R (`--replica-of` the proxy).
 * SDK clients configured with both check seats out, renew and check in throughout. P is cut off (it keeps
 * running), R is promoted, learning mode holds new grants for one lease TTL, then the cut heals and R's
 * fence reaches P. Checks: no client accepted a grant of epoch 1 after it had seen epoch 2; the seats
 * clients held across P and R never exceeded L; P refuses writes after the heal (PRIMARY_FENCED naming R).
 * The RTO is measured: cut → first renewal served by R, cut → first new grant by R.
 */
const L = 4;
const TTL_S = 5; // the shortest lease a license allows: learning mode lasts 5 s
const CLIENTS = 6;
const admin = ADMIN_HEADERS;

interface Accepted {
  readonly client: number;
  readonly leaseId: string;
  readonly epoch: number;
  readonly at: number;
  readonly kind: 'checkout' | 'renewal';
}

interface LeaseRow {
  id: string;
  createdAt: string;
  reservedUntil: string;
  endedAt?: string;
  grantedBy?: string;
}

async function leasesOf(url: string): Promise<LeaseRow[]> {
  const res = await fetch(`${url}/v1/leases?all=true&limit=10000`, {
    headers: admin,
    signal: AbortSignal.timeout(5000),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { leases: LeaseRow[] }).leases;
}

describe('promotion of a DR replica with the old primary partitioned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-promote-'));
  const nodes: NodeProcess[] = [];
  const clients: LeaseholdClient[] = [];
  let proxy: FaultProxy | undefined;
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves renewals at once, grants after learning, keeps the total within L, and fences the old primary', {
    timeout: 60_000,
  }, async () => {
    const { vendor, common, primary, post, token } = await startLicensedPrimary(dir, nodes, {
      dataDir: 'p',
      nodeId: 'P',
      seats: L,
      ttlSeconds: TTL_S,
    });
    const replicaToken = await token({ scope: 'replica', name: 'dr' });
    const clientToken = await token({ scope: 'client', license: 'lic-1', name: 'apps' });

    proxy = await FaultProxy.start({ target: primary.url });
    const replica = await spawnNode({
      name: 'replica',
      args: [...common, '--data-dir', join(dir, 'r'), '--node-id', 'R'],
      env: {
        LEASEHOLD_REPLICA_OF: proxy.url,
        LEASEHOLD_UPSTREAM_TOKEN: replicaToken,
        LEASEHOLD_REPLICA_WAIT_MS: '2000',
      },
      readiness: 'readyz',
      startTimeoutMs: 20_000,
    });
    nodes.push(replica);
    // R must hold the license and the client token before clients may fail over to it.
    await pollUntil(
      async (_left, note) => {
        const res = await fetch(`${replica.url}/v1/tokens`, { headers: admin });
        const names = res.ok ? ((await res.json()) as { tokens: { name?: string }[] }).tokens : [];
        note(`${res.status} ${names.length} tokens`);
        return names.some((t) => t.name === 'apps');
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the replica to copy the client token' },
    );

    const accepted: Accepted[] = [];
    const refusals: Record<string, number> = {};
    let stop = false;
    const worker = async (index: number) => {
      const client = createClient({
        servers: [proxy?.url ?? '', replica.url],
        token: clientToken,
        clientId: `app-${index}`,
        vendorKeys: vendor.publicPem,
        timeoutMs: 800,
        discovery: false,
      });
      clients.push(client);
      // Bounded in count and time: at most 500 rounds, and the run ends at `stop`.
      for (let round = 0; round < 500 && !stop; round++) {
        let lease: Lease;
        try {
          lease = await client.checkout('solver');
        } catch (err) {
          const code = isLeaseholdClientError(err) ? err.code : 'other';
          refusals[code] = (refusals[code] ?? 0) + 1;
          await sleep(150);
          continue;
        }
        accepted.push({
          client: index,
          leaseId: lease.id,
          epoch: lease.claims.epoch ?? 1,
          at: Date.now(),
          kind: 'checkout',
        });
        const renewed = ({ lease: l }: { lease: Lease }) => {
          accepted.push({
            client: index,
            leaseId: l.id,
            epoch: l.claims.epoch ?? 1,
            at: Date.now(),
            kind: 'renewal',
          });
        };
        // After failed renewals (the cut), the renewal that succeeds is a 'restored' event, not 'renewed'.
        const offs = [lease.on('renewed', renewed), lease.on('restored', renewed)];
        const off = () => {
          for (const o of offs) o();
        };
        // Held across a few renewals (every ~1.7 s) before the check-in.
        await sleep(1500 + Math.random() * 2500);
        off();
        await lease.release().catch(() => undefined);
        await sleep(50 + Math.random() * 100);
      }
    };
    const running = Array.from({ length: CLIENTS }, (_, i) => worker(i));

    await sleep(4000);
    const cutAt = Date.now();
    proxy.mode = 'blackhole';
    // An operator notices and promotes: here after one second.
    await sleep(1000);
    const promoteAt = Date.now();
    const promoted = await post(replica.url, '/v1/replication/promote', {});
    const promotion = (await promoted.json()) as {
      epoch: number;
      promotedAt: number;
      learningUntil: number;
      supersedes: string;
    };
    expect(promoted.status, JSON.stringify(promotion)).toBe(200);
    expect(promotion.epoch).toBe(2);
    // Learning lasts one lease TTL (no grace) plus the default 1 s clock margin: P's deadlines are on P's clock.
    expect(promotion.learningUntil - promotion.promotedAt).toBe(TTL_S * 1000 + 1000);
    expect(promotion.supersedes).toBe(proxy.url);
    const again = await post(replica.url, '/v1/replication/promote', {});
    expect(((await again.json()) as { code: string }).code).toBe('NOT_A_REPLICA');
    // Learning mode, then some grants by R alone.
    await sleep(TTL_S * 1000 + 2500);
    const healAt = Date.now();
    proxy.mode = 'pass';
    // The promoted node keeps trying (backoff at most 1 s): P hears within a few seconds of the heal.
    await pollUntil(
      async (_left, note) => {
        const cluster = (await (await fetch(`${primary.url}/v1/cluster`, { headers: admin })).json()) as {
          epoch: number;
          fenced?: { epoch: number; primary: string };
        };
        note(JSON.stringify(cluster.fenced ?? {}));
        return cluster.fenced?.epoch === 2;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the old primary to be fenced' },
    );
    const fencedAt = Date.now();
    await sleep(1500);
    stop = true;
    await Promise.all(running);

    // P refuses lease writes, naming R.
    const refused = await fetch(`${primary.url}/v1/leases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clientToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ feature: 'solver', requestId: 'after-fence', client: { id: 'late' } }),
    });
    const problem = (await refused.json()) as { code: string; primary: string; epoch: number };
    expect(refused.status).toBe(503);
    expect(problem).toMatchObject({ code: 'PRIMARY_FENCED', primary: replica.url, epoch: 2 });
    const cluster = (await (await fetch(`${replica.url}/v1/cluster`, { headers: admin })).json()) as {
      epoch: number;
      promotion: { oldPrimaryFenced: boolean };
    };
    expect(cluster.epoch).toBe(2);
    expect(cluster.promotion.oldPrimaryFenced).toBe(true);

    // No client accepted an epoch-1 grant after it had seen epoch 2.
    for (let c = 0; c < CLIENTS; c++) {
      const mine = accepted.filter((a) => a.client === c);
      const firstNew = mine.findIndex((a) => a.epoch === 2);
      if (firstNew < 0) continue;
      expect(
        mine.slice(firstNew).filter((a) => a.epoch < 2),
        `client ${c}`,
      ).toEqual([]);
    }
    // The seats clients held, across P and R, never exceeded L. A lease's interval runs from its grant to
    // the latest end either node recorded (R's copy of P's lease is what R counted it as).
    const [onP, onR] = await Promise.all([leasesOf(primary.url), leasesOf(replica.url)]);
    const held = new Map<string, RecordedGrant>();
    for (const row of [...onP, ...onR]) {
      const end = Math.min(Date.parse(row.endedAt ?? row.reservedUntil), Date.parse(row.reservedUntil));
      const before = held.get(row.id);
      held.set(row.id, {
        site: 'primary',
        leaseId: row.id,
        granted: Date.parse(row.createdAt),
        end: Math.max(end, before?.end ?? end),
      });
    }
    const acceptedIds = new Set(accepted.map((a) => a.leaseId));
    const clientHeld = [...held.values()].filter((g) => acceptedIds.has(g.leaseId));
    const peakAccepted = peakHeld(clientHeld);
    const peakAll = peakHeld([...held.values()]);
    expect(peakAccepted.seats).toBeLessThanOrEqual(L);

    // The RTO: cut → first renewal and first new grant R served (accepted by a client at epoch 2).
    const firstAt = (kind: Accepted['kind']) =>
      Math.min(...accepted.filter((a) => a.kind === kind && a.epoch === 2).map((a) => a.at));
    const firstRenewal = firstAt('renewal');
    const firstGrant = firstAt('checkout');
    expect(Number.isFinite(firstRenewal)).toBe(true);
    expect(Number.isFinite(firstGrant)).toBe(true);
    // Learning mode held every new grant until one lease TTL (+ the clock margin) after the promotion.
    expect(firstGrant).toBeGreaterThanOrEqual(promotion.learningUntil - 50);
    const grantedByR = onR.filter((l) => l.grantedBy === 'R').length;
    const grantedByPAfterHeal = onP.filter((l) => Date.parse(l.createdAt) >= healAt).length;
    const epoch1After = accepted.filter((a) => a.epoch === 1 && a.at > promoteAt).length;
    console.log(
      JSON.stringify({
        rtoMs: {
          cutToPromote: promoteAt - cutAt,
          cutToFirstRenewalOnR: firstRenewal - cutAt,
          promoteToFirstRenewalOnR: firstRenewal - promoteAt,
          cutToFirstGrantOnR: firstGrant - cutAt,
          promoteToFirstGrantOnR: firstGrant - promoteAt,
          healToFenced: fencedAt - healAt,
        },
        accepted: accepted.length,
        acceptedEpoch1AfterPromotion: epoch1After,
        grantedByR,
        grantedByPAfterHeal,
        peakAccepted,
        peakAllLeases: peakAll,
        refusals,
      }),
    );
  });
});
