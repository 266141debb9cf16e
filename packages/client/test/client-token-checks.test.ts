import { generateKeyPairSync, sign } from 'node:crypto';
import { type LeaseholdClientError, verifyLeaseToken } from '@leasehold/client';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { harness } from './support/harness.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Makes node `index` rewrite the token of every lease it hands out. */
function tamper(h: Awaited<ReturnType<typeof harness>>, index: number, rewrite: (token: string) => string) {
  h.cluster.node(index).rewriteAnswer = (body) =>
    typeof body.token === 'string' ? { ...body, token: rewrite(body.token) } : body;
}

const claimsOf = (token: string) => decodeJwt(token) as Record<string, unknown>;

describe('tokens a node sends are verified before the client relies on them', () => {
  it('rejects a modified token and gets the same lease from the next node', async () => {
    const h = await harness({ nodes: 2 });
    tamper(h, 0, (token) => {
      const [header, , signature] = token.split('.');
      return `${header}.${b64({ ...claimsOf(token), grace: 86_400 })}.${signature}`;
    });
    const lease = await h.clock.run(h.client.checkout('app'));
    expect(lease.claims.grace).toBe(0);
    expect(h.cluster.requests.filter((r) => r.path === '/v1/leases')).toHaveLength(2);
    expect(h.cluster.inUse('app')).toBe(1);
    expect(h.client.metrics().counters).toMatchObject({ tokensRejected: 1, tokensVerified: 1 });
    expect(h.events.find((e) => e.event === 'failover')?.payload).toMatchObject({
      operation: 'checkout',
      error: { code: 'TOKEN_INVALID', retryable: true },
    });
  });

  it('rejects a token signed by a key the cluster does not publish (unknown kid), after asking again', async () => {
    const h = await harness({ nodes: 1 }, { retry: { rounds: 1 } });
    const rogue = generateKeyPairSync('ed25519');
    tamper(h, 0, (token) => {
      const input = `${b64({ alg: 'EdDSA', typ: 'lease+jwt', kid: 'rogue' })}.${b64(claimsOf(token))}`;
      return `${input}.${sign(null, Buffer.from(input), rogue.privateKey).toString('base64url')}`;
    });
    const err = (await h.clock
      .run(h.client.checkout('app'))
      .catch((e: unknown) => e)) as LeaseholdClientError;
    expect(err.code).toBe('ALL_SERVERS_FAILED');
    expect(err.attempts.map((a) => a.code)).toEqual(['TOKEN_KID_UNKNOWN']);
    const jwksDownloads = h.cluster.requests.filter((r) => r.path === '/.well-known/jwks.json');
    expect(jwksDownloads).toHaveLength(2); // the first, and one more in case the key had rotated
    expect(h.client.isEntitled('app')).toBe(false);
  });

  it('rejects alg "none"', async () => {
    const h = await harness({ nodes: 1 }, { retry: { rounds: 1 } });
    const kid = h.cluster.jwks().keys[0]?.kid;
    tamper(h, 0, (token) => `${b64({ alg: 'none', typ: 'lease+jwt', kid })}.${token.split('.')[1]}.`);
    const err = (await h.clock
      .run(h.client.checkout('app'))
      .catch((e: unknown) => e)) as LeaseholdClientError;
    expect(err.attempts.map((a) => a.code)).toEqual(['TOKEN_INVALID']);
    expect(err.attempts[0]?.message).toMatch(/algorithm "none"/);
  });

  it('rejects an expired token (an old answer replayed), allowing only the clock-skew tolerance', async () => {
    const h = await harness({ nodes: 2 }, { maxClockSkewMs: 60_000 });
    const now = Math.floor(h.clock.now() / 1000);
    tamper(h, 0, (token) => h.cluster.signToken({ ...claimsOf(token), iat: now - 3600, exp: now - 3540 }));
    tamper(h, 1, (token) => h.cluster.signToken({ ...claimsOf(token), iat: now - 90, exp: now - 30 }));
    const lease = await h.clock.run(h.client.checkout('app'));
    // Node 0's token expired an hour ago: refused. Node 1's expired 30 s ago: within the tolerance.
    expect(h.events.find((e) => e.event === 'failover')?.payload).toMatchObject({
      error: { code: 'TOKEN_EXPIRED', retryable: true },
    });
    expect(lease.claims.exp).toBe(now - 30);
    // ... and it entitles only what the tolerance leaves of it (30 s), not a fresh TTL.
    // Renewals bring the same stale token back: they count as failures, and the lease runs out.
    await h.clock.advance(29_999);
    expect(lease.entitled).toBe(true);
    expect(lease.status).toBe('degraded');
    await h.clock.advance(1);
    expect(lease.entitled).toBe(false);
    expect(h.names().filter((n) => n !== 'failover')).toEqual(['degraded', 'lost']);
  });

  it('rejects a token issued to another client', async () => {
    const h = await harness({ nodes: 1 }, { retry: { rounds: 1 } });
    tamper(h, 0, (token) => h.cluster.signToken({ ...claimsOf(token), sub: 'someone-else' }));
    const err = (await h.clock
      .run(h.client.checkout('app'))
      .catch((e: unknown) => e)) as LeaseholdClientError;
    expect(err.attempts.map((a) => a.code)).toEqual(['TOKEN_INVALID']);
    expect(err.attempts[0]?.message).toMatch(/someone-else/);
  });

  it('rejects an answer whose unsigned view does not match its signed token', async () => {
    const h = await harness({ nodes: 1 }, { retry: { rounds: 1 } });
    h.cluster.node(0).rewriteAnswer = (body) => ({ ...body, fence: Number(body.fence) + 1 });
    const err = (await h.clock
      .run(h.client.checkout('app'))
      .catch((e: unknown) => e)) as LeaseholdClientError;
    expect(err.attempts.map((a) => a.code)).toEqual(['TOKEN_INVALID']);
    expect(err.attempts[0]?.message).toMatch(/fence/);
  });

  it('follows a key rotation: one JWKS download for the new kid, renewals go on', async () => {
    const h = await harness({ ttlSeconds: 60 });
    const lease = await h.clock.run(h.client.checkout('app'));
    const firstKid = lease.token.split('.')[0];
    h.cluster.rotateKey();
    await h.clock.advance(40_000);
    expect(lease.token.split('.')[0]).not.toBe(firstKid);
    expect(lease.status).toBe('active');
    expect(h.client.metrics().counters.jwksFetches).toBe(2);
    expect(h.names()).toEqual([]);
    // The client's kept set verifies the new token offline.
    expect((await verifyLeaseToken(lease.token, await h.client.jwks(), { now: h.clock.now() })).jti).toBe(
      lease.id,
    );
  });
});
