import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVendor, type NodeProcess, pollUntil, spawnNode, tlsFetch } from '@leasehold/devtools';
import { LeaseholdError } from '@leasehold/domain';
import { createCertificateAuthority, issueCertificate } from '@leasehold/pki';
import { HttpUpstreamFeed, UpstreamHttp, type UpstreamTls } from '@leasehold/server/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../helpers/test-app.js';
import { makeTestPki, spawnTlsNode, type TestPki, type TlsNode } from './support.js';

/**
 * Replicas and edge sites toward a primary that requires client certificates (`--tls-client-auth
 * require`), real processes over loopback with a CA made by the pki library: with a client certificate
 * from the primary's CA both follow it (the replica's feed; the edge's block, feed-copied license and
 * token, and a checkout it serves); without one, with one from another CA, or trusting another CA for the
 * primary, every call fails with UPSTREAM_TLS_FAILED naming the TLS error, and nothing is applied on
 * either side.
 */
describe('replica and edge toward an mTLS primary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-upstream-mtls-'));
  const nodes: NodeProcess[] = [];
  let pki: TestPki;
  let primary: TlsNode;
  /** The primary's admin API over mTLS (the test's own client certificate). */
  let admin: <T = Record<string, unknown>>(path: string, init?: RequestInit) => Promise<Answer<T>>;
  let replicaToken: string;
  let clientToken: string;
  const files: Record<'client' | 'clientKey' | 'foreign' | 'foreignKey', string> = {
    client: join(dir, 'follower.crt'),
    clientKey: join(dir, 'follower.key'),
    foreign: join(dir, 'foreign.crt'),
    foreignKey: join(dir, 'foreign.key'),
  };
  let otherCaPem: string;
  /** The vendor's public key file: the edge verifies the license it copies against it. */
  let vendorKey: string;

  beforeAll(async () => {
    pki = await makeTestPki(dir);
    const follower = await issueCertificate(pki.ca, { name: 'edge-and-replica', kind: 'client' });
    const otherCa = await createCertificateAuthority({ commonName: 'Not the primary CA' });
    otherCaPem = otherCa.certPem;
    writeFileSync(files.client, follower.certPem);
    writeFileSync(files.clientKey, follower.keyPem, { mode: 0o600 });
    writeFileSync(files.foreign, pki.foreign.certPem);
    writeFileSync(files.foreignKey, pki.foreign.keyPem, { mode: 0o600 });
    const vendor = await makeVendor(Date.now());
    vendorKey = vendor.writePublicKey(dir);
    primary = await spawnTlsNode(
      [
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--node-id',
        'primary',
        '--data-dir',
        join(dir, 'primary'),
        '--vendor-key',
        vendorKey,
        '--tls-cert',
        pki.files.cert,
        '--tls-key',
        pki.files.key,
        '--tls-ca',
        pki.files.ca,
        '--tls-client-auth',
        'require',
      ],
      pki,
      { LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN },
    );
    nodes.push(primary);
    const viaMtls = tlsFetch({ ca: pki.ca.certPem, cert: pki.client.certPem, key: pki.client.keyPem });
    admin = async <T>(path: string, init: RequestInit = {}): Promise<Answer<T>> => {
      const res = await viaMtls(`${primary.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(5000),
      });
      return { status: res.status, body: (await res.json()) as T };
    };
    const license = await vendor.issue({
      features: { solver: { seats: 5 } },
      lease: { ttl: 60, grace: 0, policy: 'strict' },
    });
    expect((await admin('/v1/licenses', { method: 'POST', body: JSON.stringify({ license }) })).status).toBe(
      201,
    );
    const made = async (payload: object) => {
      const res = await admin<{ token: string }>('/v1/tokens', {
        method: 'POST',
        body: JSON.stringify(payload),
      });
      expect(res.status).toBe(201);
      return res.body.token;
    };
    replicaToken = await made({ scope: 'replica', name: 'dr-and-edge' });
    clientToken = await made({ scope: 'client', license: 'lic-1', name: 'workstations' });
  }, 30_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  const spawnFollower = async (name: string, args: string[], readiness: 'healthz' | 'readyz') => {
    const node = await spawnNode({
      name,
      args: ['--port', '0', '--log-level', 'warn', '--node-id', name, '--data-dir', join(dir, name), ...args],
      env: { LEASEHOLD_ADMIN_TOKEN: ADMIN_TOKEN, LEASEHOLD_REPLICA_WAIT_MS: '1000' },
      readiness,
      startTimeoutMs: 20_000,
    });
    nodes.push(node);
    return node;
  };
  const get = async <T = Record<string, unknown>>(url: string, token: string): Promise<Answer<T>> => {
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const tlsArgs = (cert: string, key: string, ca = pki.files.ca) => [
    '--upstream-tls-ca',
    ca,
    '--upstream-tls-cert',
    cert,
    '--upstream-tls-key',
    key,
  ];
  /** An edge of the primary lending 2 seats of lic-1 (3 s blocks), through the given client certificate. */
  const edgeArgs = (cert: string, key: string) => [
    '--edge-of',
    primary.url,
    // A replica token: the edge copies licenses and tokens from the change feed (HttpUpstreamFeed)
    // and holds its block through the edge routes (UpstreamHttp): both go through the client certificate.
    '--upstream-token',
    replicaToken,
    '--seat-block',
    'lic-1:solver=2',
    '--block-ttl',
    '3s',
    '--vendor-key',
    vendorKey,
    ...tlsArgs(cert, key),
  ];
  /** A checkout of `solver` on `url` with the client token, for workstation `clientId`. */
  const checkoutAt = (url: string, clientId: string) =>
    fetch(`${url}/v1/leases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clientToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ feature: 'solver', requestId: randomUUID(), client: { id: clientId } }),
      signal: AbortSignal.timeout(5000),
    });

  it('(a) a replica with a client certificate from the primary CA follows the feed', async () => {
    const replica = await spawnFollower(
      'replica-good',
      [
        '--replica-of',
        primary.url,
        '--upstream-token',
        replicaToken,
        ...tlsArgs(files.client, files.clientKey),
      ],
      'readyz', // ready once the primary's signing keys came through the feed
    );
    type Digest = { digest: string; revision: number };
    const digest = async (url: string, via: (u: string) => Promise<Answer<Digest>>) =>
      (await via(`${url}/v1/replication/digest`)).body;
    const fromPrimary = (u: string) => admin<Digest>(u.slice(primary.url.length));
    const fromReplica = (u: string) => get<Digest>(u, replicaToken);
    const converged = () =>
      pollUntil(
        async (_left, note) => {
          const [want, got] = [
            await digest(primary.url, fromPrimary),
            await digest(replica.url, fromReplica),
          ];
          note(
            `replica ${got.digest?.slice(0, 8)}@${got.revision} vs ${want.digest.slice(0, 8)}@${want.revision}`,
          );
          return got.digest === want.digest && got.revision >= want.revision;
        },
        { what: 'the replica to hold the primary state', timeoutMs: 10_000, intervalMs: 100 },
      );
    await converged();
    // A change made after it caught up arrives through the long-poll.
    const more = await admin<{ id: string }>('/v1/tokens', {
      method: 'POST',
      body: JSON.stringify({ scope: 'operator' }),
    });
    expect(more.status).toBe(201);
    await converged();
    const tokens = await get<{ tokens: { id: string }[] }>(`${replica.url}/v1/tokens`, ADMIN_TOKEN);
    expect(tokens.body.tokens.map((t) => t.id)).toContain(more.body.id);
    const cluster = await get<{ replica: { lastError?: string } }>(`${replica.url}/v1/cluster`, ADMIN_TOKEN);
    expect(cluster.body.replica).toMatchObject({ connected: true, primary: primary.url });
    expect(cluster.body.replica.lastError).toBeUndefined();
  }, 30_000);

  it('(b) an edge with a client certificate gets its seat block, copies license and token from the feed, and serves a checkout', async () => {
    const edge = await spawnFollower('edge-good', edgeArgs(files.client, files.clientKey), 'readyz');
    const site = await pollUntil(
      async (_left, note) => {
        const status = (await get<EdgeSite>(`${edge.url}/v1/edge/site`, ADMIN_TOKEN)).body;
        const licenses = (await get<{ licenses: { id: string }[] }>(`${edge.url}/v1/licenses`, ADMIN_TOKEN))
          .body.licenses as {
          id: string;
        }[];
        const tokens = (await get<{ tokens: { name?: string }[] }>(`${edge.url}/v1/tokens`, ADMIN_TOKEN)).body
          .tokens;
        note(`${JSON.stringify(status.blocks)}; ${licenses.length} licenses; ${tokens.length} tokens`);
        const ready =
          status.blocks?.[0]?.seats === 2 &&
          licenses.some((l) => l.id === 'lic-1') &&
          tokens.some((t) => t.name === 'from-primary');
        return ready ? status : false;
      },
      { what: 'the edge to hold its block and copy lic-1 and its token', timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(site).toMatchObject({ copiesFrom: 'feed', primary: primary.url });
    const checkout = await checkoutAt(edge.url, 'ws-1');
    expect(checkout.status, await checkout.clone().text()).toBe(201);
    expect(await checkout.json()).toMatchObject({ feature: 'solver' });
    // The primary counts the block under the edge's site.
    const blocks = await admin('/v1/edge/blocks');
    expect(JSON.stringify(blocks.body)).toContain('edge-good');
  }, 30_000);

  it('(c) without a client certificate, or with one from another CA: UPSTREAM_TLS_FAILED naming TLS, nothing applied', async () => {
    // The two transports, called directly: the replica's feed and the edge's block client.
    const feed = (tls: UpstreamTls) =>
      new HttpUpstreamFeed({ url: primary.url, token: replicaToken, tls }).changes(-1, 10, 0);
    const block = (tls: UpstreamTls) =>
      new UpstreamHttp({ baseUrl: primary.url, token: clientToken, tls, timeoutMs: 5000 }).call(
        'PUT',
        '/v1/edge/blocks',
        { site: 'edge-x', license: 'lic-1', feature: 'solver', seats: 1, holdMs: 60_000, requestId: 'r-1' },
      );
    const noCert = { ca: pki.ca.certPem };
    const foreign = { ca: pki.ca.certPem, cert: pki.foreign.certPem, key: pki.foreign.keyPem };
    for (const call of [feed, block]) {
      await expectTlsFailure(
        call(noCert),
        /ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED.*requires a client certificate/,
      );
      await expectTlsFailure(call(foreign), /ECONNRESET.*did not accept this node's client certificate/);
    }

    // The same through real followers: a replica without a certificate, an edge with a foreign one.
    const [replica, edge] = await Promise.all([
      spawnFollower(
        'replica-no-cert',
        ['--replica-of', primary.url, '--upstream-token', replicaToken, '--upstream-tls-ca', pki.files.ca],
        'healthz', // never ready: it has no keys until the feed is read
      ),
      spawnFollower('edge-foreign-cert', edgeArgs(files.foreign, files.foreignKey), 'readyz'),
    ]);
    const edgeStatus = await pollUntil(
      async () => {
        const status = (await get<EdgeSite>(`${edge.url}/v1/edge/site`, ADMIN_TOKEN)).body;
        return status.blocks?.[0]?.lastError ? status : false;
      },
      { what: 'the edge to report its failed block renewal', timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(edgeStatus.blocks?.[0]).toMatchObject({
      seats: 0,
      lastError: expect.stringMatching(/^UPSTREAM_TLS_FAILED: TLS with the primary .*failed \(ECONNRESET\)/),
    });
    await pollUntil(
      async () => /UPSTREAM_TLS_FAILED/.test(replica.output()) && /UPSTREAM_TLS_FAILED/.test(edge.output()),
      {
        what: 'both to log the TLS failure',
        timeoutMs: 10_000,
        intervalMs: 100,
      },
    );
    expect(replica.output()).toContain('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect(edge.output()).toContain("did not accept this node's client certificate");

    // Nothing half-applied. The replica: no change applied, not connected (its metrics are public).
    const metrics = await (
      await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(5000) })
    ).text();
    expect(metrics).toMatch(/^leasehold_replica_connected(\{[^}]*\})? 0$/m);
    expect(metrics).toMatch(/^leasehold_replica_applied_changes_total(\{[^}]*\})? 0$/m);
    // The edge: no license, no token copied, so it lends nothing.
    expect(
      (await get<{ licenses: unknown[] }>(`${edge.url}/v1/licenses`, ADMIN_TOKEN)).body.licenses,
    ).toEqual([]);
    const refused = await checkoutAt(edge.url, 'ws-2');
    expect(refused.status).toBe(401);
    // The primary: no block for either, and neither among its followers (no request reached it).
    const blocks = JSON.stringify((await admin('/v1/edge/blocks')).body);
    expect(blocks).not.toContain('edge-foreign-cert');
    expect(blocks).not.toContain('edge-x');
    const followers = (await admin<{ replication: { followers: { id: string }[] } }>('/v1/cluster')).body
      .replication.followers;
    expect(followers.map((f) => f.id)).not.toContain('replica-no-cert');
    expect(followers.map((f) => f.id)).not.toContain('edge-foreign-cert');
  }, 40_000);

  it('(d) trusting another CA for the primary: UPSTREAM_TLS_FAILED naming upstreamTlsCa', async () => {
    const tls = { ca: otherCaPem, cert: pki.client.certPem, key: pki.client.keyPem };
    await expectTlsFailure(
      new HttpUpstreamFeed({ url: primary.url, token: replicaToken, tls }).snapshot(),
      /SELF_SIGNED_CERT_IN_CHAIN.*set upstreamTlsCa/,
    );
    await expectTlsFailure(
      new UpstreamHttp({ baseUrl: primary.url, token: clientToken, tls, timeoutMs: 5000 }).call(
        'GET',
        '/v1/edge/licenses/lic-1/file',
      ),
      /SELF_SIGNED_CERT_IN_CHAIN.*set upstreamTlsCa/,
    );
    // Without upstreamTlsCa the system CAs are used, which do not know the test CA either.
    await expectTlsFailure(
      new HttpUpstreamFeed({
        url: primary.url,
        token: replicaToken,
        tls: { cert: tls.cert, key: tls.key },
      }).changes(-1, 1, 0),
      /\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/,
    );
  });
});

interface Answer<T> {
  readonly status: number;
  readonly body: T;
}

interface EdgeSite {
  readonly copiesFrom?: string;
  readonly blocks?: { seats: number; lastError?: string }[];
}

async function expectTlsFailure(call: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LeaseholdError);
  expect(err).toMatchObject({ code: 'UPSTREAM_TLS_FAILED', retryable: true });
  expect((err as Error).message).toMatch(/^TLS with the primary https:\/\/127\.0\.0\.1:\d+ failed/);
  expect((err as Error).message).toMatch(message);
}
