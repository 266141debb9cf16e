import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { LeaseholdError } from '@leasehold/domain';
import type { ApiTokenRecord } from '@leasehold/store';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashApiToken } from '../tokens/api-token.js';
import type { AuthFailureLimiter } from './limits/rate-limits.js';
import type { TokenCache } from './token-cache.js';

/**
 * Who may call a route. Every route declares its scopes in `config.scopes`; registering a route without
 * them fails at start-up, so no route is open by accident. `admin` may do everything; `operator` reads
 * everything and force-releases leases, but installs, revokes, checks out and manages tokens never;
 * `client` uses the lease routes of its one license; `replica` reads the change feed and snapshots (a DR
 * replica's or an edge's upstream token; docs/replication.md). docs/security.md has the table.
 */
export type RouteScope = 'public' | 'admin' | 'operator' | 'client' | 'replica' | 'peer';

declare module 'fastify' {
  interface FastifyContextConfig {
    scopes?: readonly RouteScope[];
  }
  interface FastifyRequest {
    principal: ApiTokenRecord | undefined;
  }
}

const MAX_TOKEN_LENGTH = 512;

export function installAuth(
  app: FastifyInstance,
  tokens: TokenCache,
  failures?: AuthFailureLimiter,
  peerHosts?: () => ReadonlySet<string>,
): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRoute', (route) => {
    if (!route.config?.scopes || route.config.scopes.length === 0) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no scopes`);
    }
  });
  app.addHook('onRequest', async (request, reply) => {
    const scopes = request.routeOptions.config.scopes;
    // The not-found handler has no scopes: it answers ROUTE_NOT_FOUND to anyone.
    if (!scopes || scopes.includes('public')) return;
    // Node-to-node routes: authenticated by the TLS client certificate, not a token (docs/security.md).
    if (scopes.includes('peer')) return requirePeerCertificate(request, peerHosts);
    // A valid token always passes: the failure limit is keyed by address, and behind a load balancer or
    // NAT one attacker's bad tokens must not lock out every honest client there (issue 11). Only a
    // refused token counts (not a store that could not answer); over the budget it is a 429, not a 401.
    const record = await authenticate(request, tokens).catch(async (err: unknown) => {
      if ((err as LeaseholdError).code === 'UNAUTHENTICATED' && failures) {
        await failures.check(request, reply);
        await failures.record(request);
      }
      throw err;
    });
    if (!scopes.includes(record.scope)) {
      throw new LeaseholdError('FORBIDDEN', `a ${record.scope} token may not call this route`, {
        allowedScopes: scopes,
      });
    }
    request.principal = record;
  });
}

async function authenticate(request: FastifyRequest, tokens: TokenCache): Promise<ApiTokenRecord> {
  const hash = hashApiToken(bearerToken(request));
  const record = await tokens.find(hash);
  // Found by its hash (an index lookup), then compared in constant time anyway: no code path compares
  // secret-derived bytes with an early exit.
  if (
    !record ||
    record.revokedAt !== undefined ||
    !timingSafeEqual(Buffer.from(record.hash, 'hex'), Buffer.from(hash, 'hex'))
  ) {
    throw new LeaseholdError('UNAUTHENTICATED', 'the bearer token is unknown or revoked');
  }
  return record;
}

/**
 * `peer` routes answer a caller whose client certificate chained to the cluster CA in the handshake. On a
 * plaintext node (no TLS configured: nothing to verify with) they are as open as `/healthz`; they reveal
 * no more than the node's clock.
 */
function requirePeerCertificate(request: FastifyRequest, peerHosts?: () => ReadonlySet<string>): void {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || !socket.getPeerCertificate) return;
  const cert = socket.getPeerCertificate();
  if (Object.keys(cert).length === 0) {
    throw new LeaseholdError('PEER_CERTIFICATE_REQUIRED', 'no client certificate was presented');
  }
  if (socket.authorized !== true) {
    throw new LeaseholdError(
      'PEER_CERTIFICATE_REQUIRED',
      `the client certificate does not verify against the cluster CA (${String(socket.authorizationError)})`,
    );
  }
  // Node certificates are issued for both usages (`certs issue --kind peer`); a client-only certificate
  // from the same CA (a tool's, an operator's) does not make its holder a node.
  if (!(cert.ext_key_usage ?? []).includes(SERVER_AUTH_OID)) {
    throw new LeaseholdError(
      'PEER_CERTIFICATE_REQUIRED',
      'the client certificate is not a node (peer) certificate',
    );
  }
  // And it must name a cluster node (the host of a node's advertised URL), as the node's server
  // certificate must for the peers that call it: a node certificate leaked from elsewhere does not do.
  const hosts = peerHosts?.();
  const x509 = socket.getPeerX509Certificate?.();
  if (hosts && x509) {
    const named = [...hosts].some((h) => (isIP(h) ? x509.checkIP(h) : x509.checkHost(h)) !== undefined);
    if (!named) {
      throw new LeaseholdError(
        'PEER_CERTIFICATE_REQUIRED',
        `the client certificate (${x509.subject.replace(/\n/g, ', ')}) names no node of this cluster`,
      );
    }
  }
}

/** id-kp-serverAuth (RFC 5280 §4.2.1.12). */
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  // RFC 6750 §2.1: "Bearer" followed by the token; the scheme is case-insensitive (RFC 9110 §11.1).
  const match = header ? /^Bearer +(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1] || match[1].length > MAX_TOKEN_LENGTH) {
    throw new LeaseholdError('UNAUTHENTICATED', 'send "Authorization: Bearer <token>"');
  }
  return match[1];
}

/** The license a client token is bound to (undefined for admin and operator tokens, which see every license). */
export function licenseScope(request: FastifyRequest): string | undefined {
  const p = request.principal;
  if (p?.scope !== 'client') return undefined;
  if (p.licenseId === undefined)
    throw new LeaseholdError('FORBIDDEN', 'this client token is bound to no license');
  return p.licenseId;
}
