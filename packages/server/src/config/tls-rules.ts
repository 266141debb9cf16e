import type { NodeConfig } from './config-schema.js';

/** How the node treats client certificates once the settings are resolved. */
export type ClientAuth = 'none' | 'optional' | 'require';

/** The node's client-certificate policy: `tlsClientAuth`, else `optional` when a CA is set, else `none`. */
export function effectiveClientAuth(config: NodeConfig): ClientAuth {
  return config.tlsClientAuth ?? (config.tlsCa ? 'optional' : 'none');
}

/**
 * The TLS settings that make sense only together, checked once at load (the schema checks each alone).
 * "A configuration that asks for TLS never opens a plaintext port": half a TLS configuration is refused
 * rather than served in plaintext, and so is an http:// URL next to TLS settings.
 */
export function tlsConfigProblems(config: NodeConfig): string[] {
  const problems: string[] = [];
  const serving = config.tlsCert !== undefined || config.tlsKey !== undefined;
  if (serving && (config.tlsCert === undefined || config.tlsKey === undefined)) {
    problems.push('tlsCert and tlsKey go together (set both, or neither for plaintext HTTP)');
  }
  if (!serving && (config.tlsCa !== undefined || config.tlsClientAuth !== undefined)) {
    problems.push('tlsCa and tlsClientAuth need tlsCert and tlsKey (the node serves TLS with them)');
  }
  if (config.tlsClientAuth !== undefined && config.tlsClientAuth !== 'none' && config.tlsCa === undefined) {
    problems.push(
      `tlsClientAuth '${config.tlsClientAuth}' needs tlsCa (the CA client certificates chain to)`,
    );
  }
  if ((config.upstreamTlsCert === undefined) !== (config.upstreamTlsKey === undefined)) {
    problems.push('upstreamTlsCert and upstreamTlsKey go together');
  }
  // TLS settings toward an http:// primary would be ignored: refused instead (a replica or an edge).
  const upstream = config.replicaOf ?? config.edgeOf;
  const upstreamTls = [config.upstreamTlsCa, config.upstreamTlsCert, config.upstreamTlsKey];
  if (upstream?.startsWith('http://') && upstreamTls.some((v) => v !== undefined)) {
    problems.push(
      `upstreamTls* settings need an https:// primary (${config.replicaOf ? 'replicaOf' : 'edgeOf'} is ${upstream})`,
    );
  }
  if (config.replicaOf !== undefined && config.upstreamToken === undefined) {
    problems.push('replicaOf needs upstreamToken (a replica-scope token of the primary)');
  }
  if (config.replicaOf !== undefined && config.store !== 'sqlite') {
    problems.push('a replica (replicaOf) keeps its copy in the embedded store: store must be sqlite');
  }
  if (serving && config.advertiseUrl?.startsWith('http://')) {
    problems.push('advertiseUrl must be https:// when the node serves TLS');
  }
  const etcdTls = [config.etcdTlsCa, config.etcdTlsCert, config.etcdTlsKey].some((v) => v !== undefined);
  if ((config.etcdTlsCert === undefined) !== (config.etcdTlsKey === undefined)) {
    problems.push('etcdTlsCert and etcdTlsKey go together');
  }
  if (etcdTls && config.etcdTlsCa === undefined) {
    problems.push('etcdTlsCert needs etcdTlsCa (the CA of the etcd members)');
  }
  const schemes = new Set(config.etcdEndpoints.map((url) => url.slice(0, url.indexOf(':'))));
  if (schemes.size > 1) problems.push('etcdEndpoints mix http:// and https://');
  if (etcdTls && schemes.has('http')) {
    problems.push('etcdEndpoints must be https:// when etcd TLS settings are given');
  }
  if (!etcdTls && schemes.has('https')) {
    problems.push('https:// etcdEndpoints need etcdTlsCa (and etcdTlsCert/etcdTlsKey for mutual TLS)');
  }
  return problems;
}
