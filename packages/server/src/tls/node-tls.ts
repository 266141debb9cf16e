import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { createSecureContext, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { EtcdConnectionOptions } from '@leasehold/store';
import type { NodeConfig } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import { type ClientAuth, effectiveClientAuth } from '../config/tls-rules.js';
import type { UpstreamTls } from '../replication/upstream-fetch.js';

/** PEM texts a node presents when it calls a peer, and the CA it verifies the peer with. */
export interface PeerClientTls {
  readonly ca: string | undefined;
  readonly cert: string;
  readonly key: string;
}

/** The node's TLS, resolved from its configuration: files read, policy decided. */
export interface NodeTls {
  /** For `https.createServer` (through Fastify's `https` option). */
  readonly server: ServerOptions;
  readonly clientAuth: ClientAuth;
  /** The node calls its peers with its own certificate (kind `peer`: server and client usage). */
  readonly peerClient: PeerClientTls;
}

function readPem(path: string, setting: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${setting} ${path}: ${(err as Error).message}`);
  }
}

/** The node's TLS settings, or undefined for a plaintext node (no tlsCert). */
export function loadNodeTls(config: NodeConfig): NodeTls | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  const cert = readPem(config.tlsCert, 'tlsCert');
  const key = readPem(config.tlsKey, 'tlsKey');
  const ca = config.tlsCa === undefined ? undefined : readPem(config.tlsCa, 'tlsCa');
  const clientAuth = effectiveClientAuth(config);
  try {
    // Parses the PEMs and pairs key with certificate now, so that a wrong file is a configuration error
    // naming the settings, not a stack trace from deep inside the HTTPS server.
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
  } catch (err) {
    const files = [config.tlsCert, config.tlsKey, config.tlsCa].filter(Boolean).join(', ');
    throw new ConfigError(
      `tlsCert/tlsKey/tlsCa (${files}) do not form a usable TLS identity: ${(err as Error).message}`,
    );
  }
  return {
    clientAuth,
    peerClient: { ca, cert, key },
    server: {
      cert,
      key,
      ...(ca === undefined ? {} : { ca }),
      // TLS 1.2 is the floor of RFC 9325 (BCP 195); Node's defaults pick strong suites above it.
      minVersion: 'TLSv1.2',
      requestCert: clientAuth !== 'none',
      // `require`: OpenSSL ends the handshake for a missing or unverifiable certificate. `optional` must
      // let certificate-less clients (SDKs with bearer tokens) through, so it cannot reject in the
      // handshake; enforceOptionalClientAuth() cuts the ones that did present a bad certificate.
      rejectUnauthorized: clientAuth === 'require',
    },
  };
}

/**
 * With `optional` client auth, a connection that presented a certificate which failed verification (other
 * CA, expired, wrong usage) is closed as soon as its handshake ends: a bad certificate is never merely
 * ignored, so it cannot pass for an anonymous client by accident.
 */
export function enforceOptionalClientAuth(server: TlsServer): void {
  server.on('secureConnection', (socket: TLSSocket) => {
    const presented = Object.keys(socket.getPeerCertificate()).length > 0;
    if (presented && !socket.authorized) socket.destroy();
  });
}

/**
 * TLS toward the primary of a replica or an edge site (its CA; our client certificate for mTLS), or
 * undefined. Files are read and the certificate paired with its key now, so that a wrong file stops the
 * start as a configuration error naming the setting, not as a failed call to the primary later.
 */
export function loadUpstreamTls(
  config: Pick<NodeConfig, 'upstreamTlsCa' | 'upstreamTlsCert' | 'upstreamTlsKey'>,
): UpstreamTls | undefined {
  const { upstreamTlsCa: ca, upstreamTlsCert: cert, upstreamTlsKey: key } = config;
  if (ca === undefined && cert === undefined && key === undefined) return undefined;
  const tls = {
    ...(ca === undefined ? {} : { ca: readPem(ca, 'upstreamTlsCa') }),
    ...(cert === undefined ? {} : { cert: readPem(cert, 'upstreamTlsCert') }),
    ...(key === undefined ? {} : { key: readPem(key, 'upstreamTlsKey') }),
  };
  try {
    createSecureContext(tls);
  } catch (err) {
    const files = [ca, cert, key].filter(Boolean).join(', ');
    throw new ConfigError(
      `upstreamTlsCa/upstreamTlsCert/upstreamTlsKey (${files}) do not form a usable TLS identity: ${(err as Error).message}`,
    );
  }
  return tls;
}

/** etcd client credentials (mutual TLS) from etcdTlsCa/Cert/Key, or undefined for plaintext etcd. */
export function loadEtcdCredentials(
  config: Pick<NodeConfig, 'etcdTlsCa' | 'etcdTlsCert' | 'etcdTlsKey'>,
): EtcdConnectionOptions['credentials'] {
  if (config.etcdTlsCa === undefined) return undefined;
  return {
    rootCertificate: Buffer.from(readPem(config.etcdTlsCa, 'etcdTlsCa')),
    ...(config.etcdTlsCert === undefined
      ? {}
      : { certChain: Buffer.from(readPem(config.etcdTlsCert, 'etcdTlsCert')) }),
    ...(config.etcdTlsKey === undefined
      ? {}
      : { privateKey: Buffer.from(readPem(config.etcdTlsKey, 'etcdTlsKey')) }),
  };
}
