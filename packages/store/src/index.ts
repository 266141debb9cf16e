export { type DataKey, newDataKey, unwrapDataKey, type WrappedDataKey } from './crypto/data-key.js';
export { KEK_BYTES, kekFingerprint, parseKek } from './crypto/key-encryption-key.js';
export { RecordCipher, type SealedKind } from './crypto/record-cipher.js';
export { type EtcdConnectionOptions, EtcdGateway, operationDeadline } from './etcd/etcd-gateway.js';
export { EtcdMembership, type EtcdMembershipOptions } from './etcd/etcd-membership.js';
export {
  ETCD_MIGRATIONS,
  ETCD_SCHEMA_VERSION,
  type EtcdMigration,
  type MigrationContext,
} from './etcd/etcd-migrations.js';
export { EtcdStore, type EtcdStoreOptions } from './etcd/etcd-store.js';
export { Keyspace } from './etcd/keyspace.js';
export { epochGuardError } from './port/epoch-rules.js';
export {
  type EpochState,
  type FenceInput,
  type FencingEpochs,
  INITIAL_EPOCH_STATE,
  type PromoteInput,
} from './port/fencing-epoch.js';
export { DEFAULT_LIST_LIMIT, leaseCursor, parseLeaseCursor } from './port/lease-cursor.js';
export type {
  AcquireSeatInput,
  AcquireSeatResult,
  ApiTokenRecord,
  AuditQuery,
  AuditSealResult,
  AuditStatus,
  ForceReleaseInput,
  InstallLicenseResult,
  KekRotation,
  LeaseQuery,
  LeaseRef,
  LeaseStore,
  RenewOutcome,
  SeatBlock,
  SeatBlockInput,
  SeatBlockRef,
  SeatUsage,
  StoredSigningKey,
  TokenScope,
} from './port/lease-store.js';
export {
  type Membership,
  type NodeAnnouncement,
  type NodeRecord,
  SingleNodeMembership,
  type StoreMember,
} from './port/membership.js';
export type { ApplyResult, ReplicaPosition, ReplicaTarget } from './port/replica-target.js';
export {
  type Change,
  type ChangePage,
  type ChangeQuery,
  REPLICATED_KINDS,
  type ReplicatedKind,
  type ReplicatedRecord,
  type ReplicationFeed,
  type ReplicationSnapshot,
} from './port/replication-feed.js';
export { SEAT_BLOCK_CLIENT_PREFIX, type SeatCap, type SeatCapReading } from './port/seat-cap.js';
export { canonicalRecord, type StateDigest, stateDigest } from './replication/state-digest.js';
export { SQLITE_SCHEMA_VERSION } from './sqlite/schema.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
