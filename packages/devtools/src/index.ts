/**
 * `@leasehold/devtools`: real etcd for Leasehold's tests and developer cluster. Nothing is mocked: members
 * are etcd 3.5 processes on loopback (fetched by `scripts/fetch-etcd.sh`), driven through etcd's HTTP
 * JSON gateway, so this package needs no gRPC. It also makes the development PKI (`certs/`): a CA and
 * node, client and etcd certificates, used by the TLS harness, the dev cluster and `leasehold certs`.
 *
 * @packageDocumentation
 */
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  type CertificateFiles,
  initCertificateAuthority,
  issueCertificateFiles,
  readCertificateAuthority,
} from './certs/cert-files.js';
export {
  type CaOptions,
  type CertificateAndKey,
  type CertificateKind,
  createCertificateAuthority,
  type IssueOptions,
  issueCertificate,
  type Validity,
} from './certs/issue.js';
export { type TlsClientCredentials, tlsFetch } from './certs/tls-fetch.js';
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
