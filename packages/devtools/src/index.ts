/**
 * `@leasehold/devtools`: real etcd for Leasehold's tests and developer cluster. Nothing is mocked: members
 * are etcd 3.5 processes on loopback (fetched by `scripts/fetch-etcd.sh`), driven through etcd's HTTP
 * JSON gateway, so this package needs no gRPC. With `tls`, members run with mutual TLS on certificates
 * from `@leasehold/pki`; `tlsFetch` is the harness's HTTPS client that presents one.
 *
 * @packageDocumentation
 */

export { DevtoolsError, type DevtoolsErrorCode } from './errors.js';
export type { EtcdClusterOptions } from './etcd/cluster-options.js';
export { EtcdCluster, type EtcdKillSignal, type EtcdMemberRef } from './etcd/etcd-cluster.js';
export type { EtcdMember, EtcdMemberExit, EtcdMemberState } from './etcd/etcd-member.js';
export {
  callGateway,
  type EtcdHealth,
  type EtcdMembership,
  type EtcdStatus,
  type GatewayCallOptions,
  gatewayGet,
  gatewayPut,
  listMembers,
  readHealth,
  readStatus,
  readVersion,
} from './etcd/gateway.js';
export {
  CACHED_ETCD_PATH,
  type EtcdBinary,
  type EtcdBinarySource,
  type LocateEtcdOptions,
  locateEtcd,
} from './etcd/locate-etcd.js';
export { type TlsClientCredentials, tlsFetch } from './lib/tls-fetch.js';
