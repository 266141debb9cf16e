import type { Lease, LeaseEndReason } from '../lease/lease.js';
import type { InstallOutcome } from '../license/install-rules.js';
import type { LicenseRefusal } from '../license/license.js';
import { type AuditAction, type AuditContext, type AuditEvent, auditEvent } from './audit-event.js';

/**
 * The audit events of store changes, built once so that both backends record the same action, subject
 * and details for the same change (docs/audit.md lists them).
 */

/** The facts of a token an audit record names (never its hash). */
export interface AuditedToken {
  readonly id: string;
  readonly scope: string;
  readonly licenseId: string | undefined;
  readonly name: string | undefined;
}

/** The action that records a lease ending for `reason` (an immediate force-release ends as `revoked`). */
export function leaseEndAction(reason: LeaseEndReason): AuditAction {
  switch (reason) {
    case 'released':
      return 'lease.released';
    case 'expired':
      return 'lease.expired';
    case 'revoked':
      return 'lease.force-released';
  }
}

export function licenseInstalledEvent(
  context: AuditContext,
  outcome: Exclude<InstallOutcome, 'unchanged'>,
  license: { readonly id: string; readonly version: number },
  time: number,
): AuditEvent {
  const action = outcome === 'upgraded' ? 'license.upgraded' : 'license.installed';
  return auditEvent(context, action, `license:${license.id}`, time, { version: license.version });
}

export function licenseRevokedEvent(context: AuditContext, licenseId: string, time: number): AuditEvent {
  return auditEvent(context, 'license.revoked', `license:${licenseId}`, time);
}

/** A stored license found not to match its vendor signature (recorded once per node and record). */
export function licenseTamperedEvent(
  context: AuditContext,
  licenseId: string,
  refusal: LicenseRefusal,
  time: number,
): AuditEvent {
  return auditEvent(context, 'license.tampered', `license:${licenseId}`, time, {
    code: refusal.code,
    fields: refusal.fields.join(','),
  });
}

export function leaseGrantedEvent(context: AuditContext, lease: Lease, time: number): AuditEvent {
  return auditEvent(context, 'lease.granted', `lease:${lease.id}`, time, {
    ...leaseDetails(lease),
    client: lease.client.id,
  });
}

/** A lease ended for `reason` (released, expired, or force-released with `immediate`). */
export function leaseEndedEvent(
  context: AuditContext,
  lease: LeaseFacts,
  reason: LeaseEndReason,
  time: number,
): AuditEvent {
  return auditEvent(context, leaseEndAction(reason), `lease:${lease.id}`, time, {
    ...leaseDetails(lease),
    ...(reason === 'revoked' ? { immediate: true } : {}),
  });
}

/** A soft force-release: the lease stops renewing and frees its seat at the end of its reservation. */
export function leaseSoftRevokedEvent(context: AuditContext, lease: LeaseFacts, time: number): AuditEvent {
  return auditEvent(context, 'lease.force-released', `lease:${lease.id}`, time, {
    ...leaseDetails(lease),
    immediate: false,
  });
}

export function tokenEvent(
  context: AuditContext,
  action: 'token.created' | 'token.revoked',
  token: AuditedToken,
  time: number,
): AuditEvent {
  return auditEvent(context, action, `token:${token.id}`, time, {
    scope: token.scope,
    ...(token.licenseId !== undefined ? { license: token.licenseId } : {}),
    ...(token.name !== undefined ? { name: token.name } : {}),
  });
}

type LeaseFacts = Pick<Lease, 'id' | 'licenseId' | 'feature' | 'slot'>;

function leaseDetails(lease: LeaseFacts): { license: string; feature: string; slot: number } {
  return { license: lease.licenseId, feature: lease.feature, slot: lease.slot };
}
