/**
 * `@leasehold/devtools`: the test-and-bench kit and the developer cluster. Real etcd (etcd 3.5 processes on
 * loopback, fetched by `scripts/fetch-etcd.sh`, driven through etcd's HTTP JSON gateway, so no gRPC; with
 * `tls`, members run with mutual TLS on certificates from `@leasehold/pki`), real `leasehold serve`
 * processes (`spawnNode`, `NodeProcess`, `DevCluster` behind `leasehold dev cluster`), the vendor-key and
 * license fixture (`makeVendor`, `issueTestLicense`, `startVendorCluster`), the one bounded wait
 * (`pollUntil`) and `tlsFetch`, the harness's HTTPS client that presents a client certificate.
 *
 * @packageDocumentation
 */
export {
  DevCluster,
  type DevClusterOptions,
  type DevClusterTls,
} from './dev-cluster/dev-cluster.js';
export { startVendorCluster } from './dev-cluster/start-vendor-cluster.js';
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
export { type PollOptions, pollUntil } from './lib/poll.js';
export { type TlsClientCredentials, tlsFetch } from './lib/tls-fetch.js';
export { leaseholdBin } from './node/leasehold-bin.js';
export {
  NodeProcess,
  type NodeProcessOptions,
  type NodeReadiness,
  type NodeState,
} from './node/node-process.js';
export { spawnNode } from './node/spawn-node.js';
export { makeVendor, type Vendor } from './vendor/make-vendor.js';
export { issueTestLicense, testLicenseClaims } from './vendor/test-license.js';
