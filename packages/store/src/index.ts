export type {
  AcquireSeatInput,
  AcquireSeatResult,
  ApiTokenRecord,
  ForceReleaseInput,
  InstallLicenseResult,
  LeaseQuery,
  LeaseRef,
  LeaseStore,
  SeatUsage,
  StoredSigningKey,
  TokenScope,
} from './port/lease-store.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
