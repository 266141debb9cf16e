export {
  AUDIT_ACTIONS,
  type AuditAction,
  type AuditContext,
  type AuditEntry,
  type AuditEvent,
  type AuditHead,
  auditEvent,
} from './audit/audit-event.js';
export { canonicalJson } from './audit/canonical-json.js';
export {
  canonicalEntry,
  entryHash,
  eventOf,
  GENESIS_HASH,
  GENESIS_HEAD,
  sealEvents,
} from './audit/chain.js';
export {
  AUDIT_CHECKPOINT_TYP,
  type AuditCheckpoint,
  type StoredCheckpoint,
  signCheckpoint,
  verifyCheckpoint,
} from './audit/checkpoint.js';
export {
  type AuditAnchor,
  type AuditExportLine,
  type ExportVerification,
  exportLine,
  type ParsedAuditFile,
  parseAuditFile,
  type VerifyExportOptions,
  verifyAuditFiles,
} from './audit/export-format.js';
export {
  type AuditedToken,
  leaseEndAction,
  leaseEndedEvent,
  leaseGrantedEvent,
  leaseSoftRevokedEvent,
  licenseInstalledEvent,
  licenseRevokedEvent,
  licenseTamperedEvent,
  tokenEvent,
} from './audit/store-events.js';
export { edgeEventOf, verifyUploadedChain } from './audit/uploaded-chain.js';
export {
  type AuditProblem,
  type AuditProblemKind,
  type ChainInput,
  type ChainVerification,
  verifyChain,
} from './audit/verify-chain.js';
export { LeaseholdError } from './errors/leasehold-error.js';
export { ERROR_CODES, ERROR_REGISTRY, type ErrorCode, type ErrorSpec, errorSpec } from './errors/registry.js';
export {
  generateKeyPairPems,
  importPrivateKey,
  importPublicKey,
  type KeyPairPems,
  type KeyUse,
  type PrivateKeyInfo,
  type PublicKeyInfo,
} from './keys/key-pair.js';
export { certifySigningKey, KEY_CERT_TYP } from './keys/signing-key-cert.js';
export { ClusterSeatHandOver } from './lease/cluster-seat-hand-over.js';
export {
  type ClientInfo,
  holdsSeat,
  type Lease,
  type LeaseEndReason,
  type LeaseState,
  leaseState,
} from './lease/lease.js';
export {
  cappedLease,
  endedLease,
  expiredLease,
  forceReleasedLease,
  type GrantRequest,
  grantedLease,
  releasedLease,
  renewedLease,
} from './lease/lease-changes.js';
export {
  accessibleLease,
  assertRenewable,
  assertSameCheckout,
  checkoutCandidates,
  type LeaseAccess,
  seatsExhausted,
} from './lease/rules.js';
export {
  EXACT_HAND_OVER,
  isClockMargin,
  MAX_CLOCK_SKEW_MS_LIMIT,
  SeatHandOver,
} from './lease/seat-hand-over.js';
export { type LeaseWindow, leaseWindow, tokenExpirySeconds } from './lease/timing.js';
export {
  LEASE_TOKEN_TYP,
  type LeaseTokenClaims,
  leaseTokenClaims,
  type SigningKey,
  signLeaseToken,
} from './lease/token.js';
export {
  ClusterId,
  DEFAULT_LEASE_POLICY,
  FeatureName,
  LeasePolicyClaims,
  LicenseClaims,
  licenseClaimsValidator,
} from './license/claims.js';
export { type InstallOutcome, installOutcome } from './license/install-rules.js';
export {
  assertMatchesSignature,
  servedLicense,
  storedMismatches,
  unverifiedLicense,
} from './license/integrity.js';
export { encryptLicense, issueLicense, LICENSE_TYP } from './license/issue.js';
export {
  type Entitlement,
  type GracePolicy,
  type InstalledLicense,
  type LeasePolicy,
  type License,
  type LicenseRefusal,
  licenseFromClaims,
  licenseUnusableReason,
  seatsFor,
} from './license/license.js';
export {
  assertLicenseFitsCluster,
  type LicenseBinding,
  licenseBindingOf,
  licenseHash,
} from './license/license-binding.js';
export {
  type LicenseVerificationKeys,
  signedLicenseOf,
  verifyLicense,
  verifyStoredLicense,
} from './license/verify.js';
export { type Clock, ManualClock, systemClock } from './time/clock.js';
export { parseDuration } from './time/duration.js';
export { PeriodicTask, type PeriodicTaskOptions } from './time/periodic-task.js';
