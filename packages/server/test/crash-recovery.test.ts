import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVendor, type NodeProcess } from '@leasehold/devtools';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSqliteNode } from './helpers/sqlite-node.js';
import { ADMIN_TOKEN } from './helpers/test-app.js';

/**
 * Invariant 3 (acknowledged means durable) and 1 (no oversubscription) across a SIGKILL: the node is
 * killed while 16 clients check seats out and in; after a restart every acknowledged checkout that was
 * not acknowledged as checked in still holds its seat, no pool holds more than its seats, the database
 * passes `PRAGMA integrity_check`, and retrying in-flight requests never adds a second lease.
 */
const SEATS = 12;
const WORKERS = 16;
const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('SIGKILL during checkouts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-crash-'));
  let node: NodeProcess | undefined;
  afterAll(async () => {
    await node?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged lease and never exceeds the seat count', async () => {
    const vendor = await makeVendor(Date.now());
    vendor.writePublicKey(dir);
    node = await spawnSqliteNode(dir);
    const license = await vendor.issue({
      features: { solver: { seats: SEATS } },
      lease: { ttl: 3600, grace: 0, policy: 'strict' },
    });
    expect(
      (
        await fetch(`${node.url}/v1/licenses`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ license }),
        })
      ).status,
    ).toBe(201);

    for (let round = 0; round < 2; round++) {
      const held = new Map<string, string>(); // lease id -> request id, acknowledged and not checked in
      const inFlight = new Set<string>();
      // A lease definitely holds a seat from its grant's return to its release's call.
      const definitelyHeld = new Set<string>();
      let maxDefinitelyHeld = 0;
      let stop = false;
      let requestNo = 0;
      const { url } = node;
      const worker = async (w: number) => {
        // Bounded: at most 400 operations per worker, and the loop ends at the kill.
        for (let i = 0; i < 400 && !stop; i++) {
          const requestId = `round${round}-w${w}-r${requestNo++}`;
          inFlight.add(requestId);
          try {
            const res = await fetch(`${url}/v1/leases`, {
              method: 'POST',
              headers: auth,
              body: JSON.stringify({ feature: 'solver', client: { id: `w${w}` }, requestId }),
            });
            const body = (await res.json()) as { id: string };
            inFlight.delete(requestId);
            if (res.status === 201) {
              held.set(body.id, requestId);
              definitelyHeld.add(body.id);
              maxDefinitelyHeld = Math.max(maxDefinitelyHeld, definitelyHeld.size);
            }
            if (res.status === 201 && i % 3 === 0) {
              definitelyHeld.delete(body.id);
              // From here the check-in's outcome is unknown until it answers: expect nothing of this lease.
              held.delete(body.id);
              const del = await fetch(`${url}/v1/leases/${body.id}`, { method: 'DELETE', headers: auth });
              if (del.status !== 200) held.set(body.id, requestId);
            }
          } catch {
            return; // the node is gone: this request's outcome is unknown
          }
        }
      };
      const running = Array.from({ length: WORKERS }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 400 + round * 300));
      await node.kill('SIGKILL');
      stop = true;
      await Promise.all(running);
      expect(maxDefinitelyHeld).toBeLessThanOrEqual(SEATS);

      const db = new Database(join(dir, 'data', 'leasehold.db'));
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();

      node = await spawnSqliteNode(dir);
      const leases = (await (await fetch(`${node.url}/v1/leases`, { headers: auth })).json()) as {
        leases: { id: string; requestId: string }[];
      };
      const live = new Set(leases.leases.map((l) => l.id));
      expect(held.size).toBeGreaterThan(0);
      for (const id of held.keys()) expect(live.has(id), `acknowledged lease ${id} survives`).toBe(true);
      expect(live.size).toBeLessThanOrEqual(SEATS);

      // Retrying requests whose outcome was unknown: the same lease if it was granted, never a second one.
      for (const requestId of inFlight) {
        const w = /-w(\d+)-/.exec(requestId)?.[1];
        const res = await fetch(`${node.url}/v1/leases`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ feature: 'solver', client: { id: `w${w}` }, requestId }),
        });
        const body = (await res.json()) as { id: string; requestId: string };
        const before = leases.leases.find((l) => l.requestId === requestId);
        if (before) expect([res.status, body.id]).toEqual([200, before.id]);
        else expect([201, 409]).toContain(res.status);
      }
      const after = (await (await fetch(`${node.url}/v1/leases`, { headers: auth })).json()) as {
        leases: unknown[];
      };
      expect(after.leases.length).toBeLessThanOrEqual(SEATS);
      // Free every seat for the next round.
      const restarted = node.url;
      const remaining = (await (await fetch(`${restarted}/v1/leases`, { headers: auth })).json()) as {
        leases: { id: string }[];
      };
      await Promise.all(
        remaining.leases.map((l) =>
          fetch(`${restarted}/v1/leases/${l.id}`, { method: 'DELETE', headers: auth }),
        ),
      );
    }
    await node.kill('SIGTERM');
  }, 60_000);
});
