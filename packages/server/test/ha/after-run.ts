import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredLease } from './checker.js';
import { now } from './history.js';

/**
 * What the fault run and the soak check once the clients have stopped: every seat comes back by itself
 * (abandoned leases and checkouts whose answers were lost expire), the membership heals by itself (one
 * sweeper), and the store's own records of every lease (for checker.ts's checkStoreRecords). Every loop is
 * bounded by a count and by time.
 */

const REQUEST_TIMEOUT_MS = 2000;

const get = (url: string, token: string, timeoutMs = REQUEST_TIMEOUT_MS) =>
  fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) }).catch(
    () => undefined,
  );

/**
 * Polls the live leases through `url` until none is left or `until` (Date.now()) has passed; the count
 * last seen (-1 if no answer ever came).
 */
export async function liveLeasesUntilFree(url: string, token: string, until: number): Promise<number> {
  let liveLeases = -1;
  for (let i = 0; i < 100 && now() < until; i++) {
    const res = await get(`${url}/v1/leases`, token);
    if (res?.ok) {
      liveLeases = ((await res.json()) as { leases: unknown[] }).leases.length;
      if (liveLeases === 0) break;
    }
    await sleep(500);
  }
  return liveLeases;
}

/** Membership healed (docs/ha.md): every node registered with a fresh heartbeat, exactly one sweeper. */
export async function membershipHealed(
  urls: readonly string[],
  token: string,
): Promise<{ ok: boolean; view: string }> {
  let view = 'no answer';
  for (let i = 0; i < 20; i++) {
    const res = await get(`${urls[i % urls.length]}/v1/cluster`, token);
    if (res?.ok) {
      const body = (await res.json()) as {
        node: string;
        nodes: { id: string; role: string; heartbeatAgeMs: number; healthy: boolean }[];
      };
      view = `${body.node} sees ${body.nodes.map((n) => `${n.id} ${n.role} ${n.heartbeatAgeMs} ms`).join(', ')}`;
      if (
        body.nodes.length === urls.length &&
        body.nodes.every((n) => n.healthy) &&
        body.nodes.filter((n) => n.role === 'leader').length === 1
      )
        return { ok: true, view };
    }
    await sleep(500);
  }
  return { ok: false, view };
}

/**
 * The store's records of every lease (ended ones are kept for a day), page by page (`next` cursor, at most
 * `maxPages`), or undefined if a page got no answer from any node.
 */
export async function storedLeases(
  urls: readonly string[],
  token: string,
  query = '',
  maxPages = 20,
): Promise<StoredLease[] | undefined> {
  const leases: StoredLease[] = [];
  let after: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const cursor = after === undefined ? '' : `&after=${encodeURIComponent(after)}`;
    let body: { leases: StoredLease[]; next?: string } | undefined;
    for (let i = 0; i < 5 && body === undefined; i++) {
      const res = await get(
        `${urls[i % urls.length]}/v1/leases?all=true&limit=10000${query}${cursor}`,
        token,
        5000,
      );
      if (res?.ok) body = (await res.json()) as { leases: StoredLease[]; next?: string };
      else await sleep(500);
    }
    if (body === undefined) return undefined;
    leases.push(...body.leases);
    if (body.next === undefined) return leases;
    after = body.next;
  }
  return leases;
}
