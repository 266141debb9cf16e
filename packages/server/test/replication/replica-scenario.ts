import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type NodeProcess, pollUntil, spawnNode, type Vendor } from '@leasehold/devtools';
import { expect } from 'vitest';

/** The primary under test: an embedded node or a node of an etcd dev cluster, behind one fixed URL. */
export interface Primary {
  readonly url: string;
  readonly adminToken: string;
  readonly vendor: Vendor;
  /** SIGKILL the primary node (or one of its nodes) and start it again on the same data and port. */
  crashAndRestart(): Promise<void>;
  /** Drops the primary's change history up to now (etcd compaction; SQLite: enough writes past retention). */
  compactHistory(): Promise<void>;
}

interface Digest {
  readonly revision: number;
  readonly digest: string;
  readonly counts: Record<string, number>;
}

const call = async (url: string, token: string, path: string, init: RequestInit = {}) => {
  const res = await fetch(`${url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
};

export const digestOf = async (url: string, token: string): Promise<Digest> => {
  const res = await call(url, token, '/v1/replication/digest');
  if (res.status !== 200) throw new Error(`digest of ${url}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as unknown as Digest;
};

/** A replica node following `primary`, on SQLite in `dir`. */
export function spawnReplica(dir: string, primary: Primary, token: string): Promise<NodeProcess> {
  return spawnNode({
    name: `replica ${dir}`,
    args: ['--port', '0', '--data-dir', dir, '--log-level', 'warn'],
    env: {
      LEASEHOLD_REPLICA_OF: primary.url,
      LEASEHOLD_UPSTREAM_TOKEN: token,
      LEASEHOLD_REPLICA_WAIT_MS: '2000',
    },
    readiness: 'readyz',
    startTimeoutMs: 20_000,
  });
}

/**
 * Waits (bounded) until every replica holds the primary's state: the primary's digest D at revision R,
 * each replica's digest D at a position of at least R, and the primary still at D afterwards (its
 * revision may move meanwhile through writes replication does not copy, such as audit records).
 */
export async function converge(
  primary: Primary,
  replicas: readonly NodeProcess[],
  token: string,
  what: string,
) {
  return pollUntil(
    async (_left, note) => {
      const want = await digestOf(primary.url, token).catch(() => undefined);
      if (!want) return false;
      for (const r of replicas) {
        const got = await digestOf(r.url, token).catch((e: unknown) => ({ revision: -1, digest: String(e) }));
        note(
          `${r.name}: ${got.digest.slice(0, 8)}@${got.revision} vs primary ${want.digest.slice(0, 8)}@${want.revision}`,
        );
        if (got.digest !== want.digest || got.revision < want.revision) return false;
      }
      // The primary's replicated state did not move meanwhile: the comparison was of one state.
      const again = await digestOf(primary.url, token);
      return again.digest === want.digest ? want : false;
    },
    { what, timeoutMs: 45_000, intervalMs: 200 },
  );
}

/**
 * Issue 12's check: a primary with two replicas under a stream of license and token changes (and
 * checkouts, renewals, check-ins), while replicas and the primary are SIGKILLed and restarted; the
 * replicas converge to the primary's exact state (same canonical digest, same revision). Then a
 * replica that was down while the primary purged records and dropped its history gets 410, reloads the
 * snapshot and converges, the purged records gone from it too.
 */
export async function runReplicaScenario(primary: Primary, dir: string): Promise<void> {
  const { url, adminToken, vendor } = primary;
  const admin = (path: string, init: RequestInit = {}) => call(url, adminToken, path, init);
  const install = await admin('/v1/licenses', {
    method: 'POST',
    body: JSON.stringify({ license: await vendor.issue({ features: { solver: { seats: 40 } } }) }),
  });
  expect(install.status, JSON.stringify(install.body)).toBe(201);
  const made = await admin('/v1/tokens', {
    method: 'POST',
    body: JSON.stringify({ scope: 'replica', name: 'dr' }),
  });
  expect(made.status).toBe(201);
  const token = made.body.token as string;

  const replicas = [
    await spawnReplica(join(dir, 'replica-1'), primary, token),
    await spawnReplica(join(dir, 'replica-2'), primary, token),
  ];
  try {
    await converge(primary, replicas, token, 'both replicas to copy the first license');

    // The workload: bounded in count; errors while the primary is down are expected and ignored.
    let stop = false;
    let done = 0;
    let version = 1;
    const leases: string[] = [];
    const workload = (async () => {
      for (let i = 0; i < 2000 && !stop; i++) {
        try {
          const step = i % 10;
          if (step < 4) {
            const res = await admin('/v1/leases', {
              method: 'POST',
              body: JSON.stringify({
                feature: 'solver',
                client: { id: `c${i % 7}` },
                requestId: randomUUID(),
              }),
            });
            if (res.status === 201) leases.push(res.body.id as string);
          } else if (step < 6 && leases.length > 0) {
            await admin(`/v1/leases/${leases.shift()}`, { method: 'DELETE' });
          } else if (step === 6 && leases.length > 0) {
            await admin(`/v1/leases/${leases[0]}/renew`, { method: 'POST' });
          } else if (step === 7) {
            const t = await admin('/v1/tokens', {
              method: 'POST',
              body: JSON.stringify({ scope: 'operator' }),
            });
            if (t.status === 201 && i % 20 === 7)
              await admin(`/v1/tokens/${t.body.id}`, { method: 'DELETE' });
          } else if (step === 8 && i % 40 === 8) {
            const next = version + 1;
            const res = await admin('/v1/licenses', {
              method: 'POST',
              body: JSON.stringify({
                license: await vendor.issue({ ver: next, features: { solver: { seats: 40 + next } } }),
              }),
            });
            if (res.status === 201 || res.status === 200) version = next;
          }
          done++;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // The nemesis: each replica and the primary SIGKILLed and restarted, mid-stream.
    await pause(1500);
    await replicas[0]?.restart();
    await pause(1000);
    await primary.crashAndRestart();
    await pause(1000);
    await replicas[1]?.kill('SIGKILL');
    await pause(1000);
    await replicas[1]?.start();
    await pause(1000);
    stop = true;
    await workload;
    expect(done).toBeGreaterThan(50);
    const converged = await converge(primary, replicas, token, 'both replicas to converge after the crashes');
    expect(converged.counts.license).toBeGreaterThanOrEqual(1);
    expect(converged.counts.token).toBeGreaterThan(3);

    // Compaction: replica 2 is down while ended leases are purged and the history is dropped.
    const ended = await admin('/v1/leases?all=true&limit=10000');
    await replicas[1]?.kill('SIGKILL');
    const endedIds = ((ended.body.leases ?? []) as { id: string; endedAt?: string }[])
      .filter((l) => l.endedAt !== undefined)
      .map((l) => l.id);
    expect(endedIds.length).toBeGreaterThan(0);
    await pollUntil(
      async () => {
        const now = await admin('/v1/leases?all=true&limit=10000');
        const left = new Set(((now.body.leases ?? []) as { id: string }[]).map((l) => l.id));
        return endedIds.every((id) => !left.has(id));
      },
      { what: 'the primary to purge the ended leases', timeoutMs: 20_000, intervalMs: 250 },
    );
    await primary.compactHistory();
    await replicas[1]?.start();
    const final = await converge(
      primary,
      replicas,
      token,
      'the compacted-past replica to reload and converge',
    );
    expect(final.counts.lease ?? 0).toBeLessThan(converged.counts.lease ?? 0);
    const cluster = await call(replicas[1]?.url ?? '', adminToken, '/v1/cluster');
    expect((cluster.body.replica as { snapshotReloads: number }).snapshotReloads).toBeGreaterThanOrEqual(1);
    // A replica refuses writes, naming the primary.
    const write = await call(replicas[0]?.url ?? '', adminToken, '/v1/leases', {
      method: 'POST',
      body: JSON.stringify({ feature: 'solver', client: { id: 'x' }, requestId: randomUUID() }),
    });
    expect(write.status).toBe(503);
    expect(write.body).toMatchObject({ code: 'REPLICA_READ_ONLY', primary: url });
  } finally {
    await Promise.all(replicas.map((r) => r.kill('SIGKILL')));
  }
}
