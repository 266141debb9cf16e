import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultProxy } from '@leasehold/client/testing';
import { type NodeProcess, pollUntil, spawnNode } from '@leasehold/devtools';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_HEADERS, startLicensedPrimary } from '../helpers/licensed-primary.js';
import { ADMIN_TOKEN } from '../helpers/test-app.js';
import { checkGrants, peakHeld, type RecordedGrant, type Site } from './grant-checker.js';

/**
 * Edge cap under a WAN cut (issue 12, docs/replication.md), with real processes: a primary and an edge
 * site (`leasehold serve --edge-of`) whose link to the primary runs through a TCP fault proxy. A license of
 * L seats, a block of B; clients check seats out and in on both sides throughout; the link is cut for
 * longer than the block TTL, then healed. Over every recorded grant the checker proves primary + edge ≤ L
 * at every instant, that the edge served within its block during the cut, and nothing after its deadline.
 */
const L = 5;
const B = 2;
const BLOCK_TTL_MS = 3000;
// More primary clients than seats, so that the primary takes every seat the block leaves free.
const PRIMARY_WORKERS = 6;
const EDGE_WORKERS = 3;
const admin = ADMIN_HEADERS;

/** Refusals by site and code, for the log line. */
function tally(refusals: readonly Refusal[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of refusals) counts[`${r.site}:${r.code}`] = (counts[`${r.site}:${r.code}`] ?? 0) + 1;
  return counts;
}

interface Refusal {
  readonly site: Site;
  readonly at: number;
  readonly code: string;
}

describe('edge site under a WAN cut', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-edge-cut-'));
  const nodes: NodeProcess[] = [];
  let proxy: FaultProxy | undefined;
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps primary + edge within the license through a cut longer than the block TTL', {
    timeout: 90_000,
  }, async () => {
    const { common, primary, token } = await startLicensedPrimary(dir, nodes, {
      dataDir: 'primary',
      nodeId: 'primary',
      seats: L,
      ttlSeconds: 60,
    });
    // One client token of the license: the edge's upstream token and every client's, on both sides.
    const clientToken = await token({ scope: 'client', license: 'lic-1', name: 'edge-and-clients' });

    proxy = await FaultProxy.start({ target: primary.url });
    const edge = await spawnNode({
      name: 'edge',
      args: [
        ...common,
        '--data-dir',
        join(dir, 'edge'),
        '--node-id',
        'edge-a',
        '--edge-of',
        proxy.url,
        '--upstream-token',
        clientToken,
        '--seat-block',
        `lic-1:solver=${B}`,
        '--block-ttl',
        `${BLOCK_TTL_MS / 1000}s`,
      ],
      env: { LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN },
      readiness: 'readyz',
    });
    nodes.push(edge);
    const edgeStatus = async () =>
      (await (await fetch(`${edge.url}/v1/edge/site`, { headers: admin })).json()) as {
        blocks: { seats: number; remainingMs: number }[];
      };
    await pollUntil(
      async (_left, note) => {
        const block = (await edgeStatus()).blocks[0];
        note(JSON.stringify(block));
        return block !== undefined && block.seats === B && block.remainingMs > 0;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the edge to hold its block' },
    );
    // And to have copied the license and the client token (a client refused meanwhile would count as an
    // authentication failure against the edge's per-address limit).
    await pollUntil(
      async (_left, note) => {
        const licenses = (await (await fetch(`${edge.url}/v1/licenses`, { headers: admin })).json()) as {
          licenses: { id: string }[];
        };
        const tokens = (await (await fetch(`${edge.url}/v1/tokens`, { headers: admin })).json()) as {
          tokens: { name?: string }[];
        };
        note(`${licenses.licenses.length} licenses, ${tokens.tokens.length} tokens`);
        return (
          licenses.licenses.some((l) => l.id === 'lic-1') &&
          tokens.tokens.some((t) => t.name === 'from-primary')
        );
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the edge to copy the license and the client token' },
    );

    const grants: RecordedGrant[] = [];
    const refusals: Refusal[] = [];
    let stop = false;
    const client = { authorization: `Bearer ${clientToken}`, 'content-type': 'application/json' };
    const worker = async (site: Site, url: string, w: number) => {
      // Bounded in count and time: at most 2,000 rounds, and the run ends at `stop`.
      for (let i = 0; i < 2000 && !stop; i++) {
        const answer = await fetch(`${url}/v1/leases`, {
          method: 'POST',
          headers: client,
          body: JSON.stringify({
            feature: 'solver',
            requestId: randomUUID(),
            client: { id: `${site}-${w}` },
          }),
          signal: AbortSignal.timeout(5000),
        });
        const body = (await answer.json()) as { id?: string; createdAt?: string; code?: string };
        if (answer.status !== 201 || body.id === undefined || body.createdAt === undefined) {
          refusals.push({ site, at: Date.now(), code: body.code ?? String(answer.status) });
          await sleep(20 + Math.random() * 60);
          continue;
        }
        await sleep(80 + Math.random() * 250);
        // A lease belongs to its client (issue 11): the check-in names it.
        const released = await fetch(`${url}/v1/leases/${body.id}?client=${site}-${w}`, {
          method: 'DELETE',
          headers: client,
          signal: AbortSignal.timeout(5000),
        });
        const ended = (await released.json()) as { endedAt?: string; reservedUntil?: string };
        expect(released.status, JSON.stringify(ended)).toBe(200);
        const endedAt = Date.parse(ended.endedAt ?? '');
        const reservedUntil = Date.parse(ended.reservedUntil ?? '');
        grants.push({
          site,
          leaseId: body.id,
          granted: Date.parse(body.createdAt),
          end: Math.min(endedAt, reservedUntil),
        });
        // Primary clients pause between checkouts, so the edge's grow after the heal finds free seats.
        await sleep(site === 'primary' ? 50 + Math.random() * 150 : 10);
      }
    };
    const running = [
      ...Array.from({ length: PRIMARY_WORKERS }, (_, w) => worker('primary', primary.url, w)),
      ...Array.from({ length: EDGE_WORKERS }, (_, w) => worker('edge', edge.url, w)),
    ];

    await sleep(3000);
    const cutAt = Date.now();
    proxy.mode = 'blackhole';
    await sleep(BLOCK_TTL_MS * 2 + 1000);
    const cutStatus = (await edgeStatus()).blocks[0];
    const healAt = Date.now();
    proxy.mode = 'pass';
    await pollUntil(
      async (_left, note) => {
        const block = (await edgeStatus()).blocks[0];
        note(JSON.stringify(block));
        return block !== undefined && block.remainingMs > 0 && block.seats > 0;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the edge to hold a block again after the heal' },
    );
    await sleep(3000);
    stop = true;
    await Promise.all(running);

    const check = checkGrants(grants, L, B, { cutAt, healAt, blockTtlMs: BLOCK_TTL_MS });
    const expiredRefusals = refusals.filter(
      (r) =>
        r.site === 'edge' && r.code === 'SEAT_BLOCK_EXPIRED' && r.at > cutAt + BLOCK_TTL_MS && r.at < healAt,
    ).length;
    const peakPrimaryWithBlock = peakHeld(
      grants.filter((g) => g.site === 'primary'),
      cutAt - 2500,
      cutAt,
    ).seats;
    console.log(
      `[edge-cut] grants: ${grants.filter((g) => g.site === 'primary').length} primary, ${grants.filter((g) => g.site === 'edge').length} edge; ` +
        `peak total ${check.peakTotal.seats}/${L}, peak edge ${check.peakEdge.seats}/${B}; edge grants in the cut before its deadline ${check.edgeGrantsInCut}; ` +
        `edge SEAT_BLOCK_EXPIRED refusals after the deadline ${expiredRefusals}; primary peak while the block was held ${peakPrimaryWithBlock}, ` +
        `after it lapsed ${check.peakPrimaryWhileBlockLapsed}; edge grants after the heal ${check.edgeGrantsAfterHeal}; ` +
        `edge block status in the cut ${JSON.stringify(cutStatus)}; refusals ${JSON.stringify(tally(refusals))}`,
    );
    expect(check.violations).toEqual([]);
    expect(check.edgeGrantsInCut).toBeGreaterThan(0);
    expect(expiredRefusals).toBeGreaterThan(0);
    expect(cutStatus?.remainingMs).toBe(0);
    expect(peakPrimaryWithBlock).toBeLessThanOrEqual(L - B);
    // Once the primary's clock passed the block's deadline, its clients could use the block's seats.
    expect(check.peakPrimaryWhileBlockLapsed).toBeGreaterThan(L - B);
    expect(check.edgeGrantsAfterHeal).toBeGreaterThan(0);

    // The edge's audit trail reached the primary, verified: its grants are there as edge.event entries.
    await pollUntil(
      async (_left, note) => {
        const page = (await (
          await fetch(`${primary.url}/v1/audit/events?limit=1000`, { headers: admin })
        ).json()) as { events: { action: string; details?: Record<string, unknown> }[] };
        const uploaded = page.events.filter((e) => e.action === 'edge.event' && e.details?.site === 'edge-a');
        note(`${uploaded.length} edge events on the primary`);
        return uploaded.some((e) => e.details?.edgeAction === 'lease.granted');
      },
      { timeoutMs: 15_000, intervalMs: 250, what: "the edge's audit events on the primary" },
    );
  });
});
