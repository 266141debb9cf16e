import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  httpsGet,
  listeningPorts,
  makeTestPki,
  spawnTlsNode,
  type TestPki,
  type TlsNode,
} from './support.js';

/**
 * The node API over TLS, against real `leasehold serve` processes: which client certificates a handshake
 * accepts, and that a node configured for TLS has no plaintext port (issue 5, item 1).
 */
describe('TLS and mTLS on a node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-tls-'));
  let pki: TestPki;
  let strict: TlsNode;
  let relaxed: TlsNode;
  let anonymousOnly: TlsNode;

  beforeAll(async () => {
    pki = await makeTestPki(dir);
    const tlsArgs = ['--tls-cert', pki.files.cert, '--tls-key', pki.files.key, '--tls-ca', pki.files.ca];
    const common = ['--host', '127.0.0.1', '--port', '0'];
    [strict, relaxed, anonymousOnly] = await Promise.all([
      spawnTlsNode(
        [...common, '--data-dir', join(dir, 'strict'), ...tlsArgs, '--tls-client-auth', 'require'],
        pki,
      ),
      // optional is the default with a CA: SDK clients come with bearer tokens and no certificate.
      spawnTlsNode([...common, '--data-dir', join(dir, 'relaxed'), ...tlsArgs], pki),
      // none: plain server-side TLS, no client certificates asked for.
      spawnTlsNode(
        [...common, '--data-dir', join(dir, 'none'), ...tlsArgs, '--tls-client-auth', 'none'],
        pki,
      ),
    ]);
  });

  afterAll(async () => {
    await Promise.all([strict?.kill('SIGTERM'), relaxed?.kill('SIGTERM'), anonymousOnly?.kill('SIGTERM')]);
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (node: TlsNode, options: Omit<Parameters<typeof httpsGet>[1], 'ca'>, path = '/healthz') =>
    httpsGet(`${node.url}${path}`, { ca: pki.ca.certPem, ...options });

  describe('client certificates required', () => {
    it('a certificate from the cluster CA gets through', async () => {
      expect(await get(strict, { cert: pki.client })).toMatchObject({ status: 200 });
      expect(await get(strict, { cert: pki.peer }, '/v1/peer/time')).toMatchObject({ status: 200 });
    });

    it('no client certificate: the handshake fails', async () => {
      // TLS 1.3: the server's alert "certificate required" (RFC 8446 §6.2) reaches the client on first read.
      expect(await get(strict, {})).toEqual({ error: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
    });

    // A certificate that is there but does not verify: Node's TLS server checks it at the end of the
    // handshake and destroys the socket (no alert is sent), so the client sees a reset before any HTTP
    // byte. The same request with a good certificate passes (first test), so the certificate is the cause.
    it('a certificate from another CA: the handshake fails', async () => {
      expect(await get(strict, { cert: pki.foreign })).toEqual({ error: 'ECONNRESET' });
    });

    it('an expired certificate: the handshake fails', async () => {
      expect(await get(strict, { cert: pki.expired })).toEqual({ error: 'ECONNRESET' });
    });

    it('a server-only certificate presented as a client certificate: the handshake fails', async () => {
      expect(await get(strict, { cert: pki.serverOnly })).toEqual({ error: 'ECONNRESET' });
    });

    it("a client that expects another name than the node's certificate carries: the handshake fails", async () => {
      expect(await get(strict, { cert: pki.client, servername: 'localhost' })).toMatchObject({ status: 200 });
      expect(await get(strict, { cert: pki.client, servername: 'node-7.example' })).toEqual({
        error: 'ERR_TLS_CERT_ALTNAME_INVALID',
      });
    });

    it('a client that does not trust the cluster CA refuses the node', async () => {
      expect(await httpsGet(`${strict.url}/healthz`, { ca: pki.foreign.certPem, cert: pki.client })).toEqual({
        // The node sends its CA with its certificate; a client with another trust anchor rejects the chain.
        error: 'SELF_SIGNED_CERT_IN_CHAIN',
      });
    });
  });

  describe('client certificates optional (the default with a CA)', () => {
    it('no certificate: served (SDK clients authenticate with bearer tokens)', async () => {
      expect(await get(relaxed, {})).toMatchObject({ status: 200 });
    });

    it('a certificate that does not verify: the connection is cut, never treated as anonymous', async () => {
      for (const cert of [pki.foreign, pki.expired]) {
        expect(await get(relaxed, { cert })).toEqual({ error: 'ECONNRESET' });
      }
    });

    it('the peer route answers only a node certificate from the cluster CA that names a cluster node', async () => {
      const anonymous = await get(relaxed, {}, '/v1/peer/time');
      expect(anonymous).toMatchObject({ status: 401 });
      expect(JSON.parse((anonymous as { body: string }).body)).toMatchObject({
        code: 'PEER_CERTIFICATE_REQUIRED',
      });
      const clientOnly = await get(relaxed, { cert: pki.client }, '/v1/peer/time');
      expect(clientOnly).toMatchObject({ status: 401 });
      expect((clientOnly as { body: string }).body).toContain('not a node (peer) certificate');
      const elsewhere = await get(relaxed, { cert: pki.elsewhere }, '/v1/peer/time');
      expect(elsewhere).toMatchObject({ status: 401 });
      expect((elsewhere as { body: string }).body).toContain('names no node of this cluster');
      const peer = await get(relaxed, { cert: pki.peer }, '/v1/peer/time');
      expect(peer).toMatchObject({ status: 200 });
      const body = JSON.parse((peer as { body: string }).body) as { time: number };
      console.error(
        `[timing] /v1/peer/time vs the test's clock: ${Date.now() - body.time} ms (bound ±1000 ms)`,
      );
      // bound ±1000 ms: worst measured 1 ms (4 runs on 2026-12-06, one beside a CPU-bound process).
      expect(Math.abs(body.time - Date.now())).toBeLessThan(1000);
    });
  });

  describe('client certificates not asked for (none)', () => {
    it('serves clients with or without one; peer routes answer nobody', async () => {
      expect(await get(anonymousOnly, {})).toMatchObject({ status: 200 });
      expect(await get(anonymousOnly, { cert: pki.foreign })).toMatchObject({ status: 200 });
      const peer = await get(anonymousOnly, { cert: pki.peer }, '/v1/peer/time');
      expect(peer).toMatchObject({ status: 401 });
      expect((peer as { body: string }).body).toContain('no client certificate was presented');
    });
  });

  describe('no plaintext port', () => {
    it.each([
      ['require', () => strict],
      ['optional', () => relaxed],
      ['none', () => anonymousOnly],
    ] as const)(
      'with client auth %s, plaintext HTTP to the port fails and it is the only port',
      async (_, node) => {
        const n = node();
        const plain = await new Promise<string>((resolve) => {
          const req = httpRequest(`http://127.0.0.1:${n.port}/healthz`, { agent: false }, (res) =>
            resolve(`answered ${res.statusCode}`),
          );
          req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
          req.end();
        });
        expect(plain).toBe('ECONNRESET');
        expect(n.url).toMatch(/^https:\/\//);
        expect(listeningPorts(n.child?.pid ?? 0)).toEqual([n.port]);
      },
    );
  });
});
