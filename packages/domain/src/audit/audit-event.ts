/**
 * What the audit trail records: one event per state change, written in the same atomic store operation
 * as the change (docs/audit.md). Renewals are not events: they change no state an auditor asks about
 * ("who held which seat when" follows from grant, release and expiry), and at one per client every third
 * of a TTL they would outnumber every other event by orders of magnitude.
 */
export const AUDIT_ACTIONS = [
  'license.installed',
  'license.upgraded',
  'license.revoked',
  'license.tampered',
  'lease.granted',
  'lease.released',
  'lease.expired',
  'lease.force-released',
  'token.created',
  'token.revoked',
  'node.joined',
  'node.left',
  'edge.event',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who caused a change and on which node; every state-changing store operation takes one. */
export interface AuditContext {
  /** `admin:<token id>`, `client:<token id>`, `system:sweeper`, `system:bootstrap`, … */
  readonly actor: string;
  /** The node that made the change. */
  readonly node: string;
}

export interface AuditEvent {
  readonly action: AuditAction;
  readonly actor: string;
  /** What changed: `license:<id>`, `lease:<id>`, `token:<id>`, `node:<id>`. */
  readonly subject: string;
  /** Wall-clock milliseconds of the change, by the acting node's clock. */
  readonly time: number;
  readonly node: string;
  /** Small, JSON-only facts about the change (feature, slot, client, reason). */
  readonly details?: Readonly<Record<string, string | number | boolean | null>> | undefined;
}

/** A sealed event: its place in the chain and the hashes that bind it there. */
export interface AuditEntry extends AuditEvent {
  /** 1, 2, 3, … without gaps, across archived segments and the live store. */
  readonly seq: number;
  /** The previous entry's hash; GENESIS_HASH for seq 1. */
  readonly prevHash: string;
  /** SHA-256 hex of prevHash || JCS(event + seq); see chain.ts. */
  readonly hash: string;
}

/** The last sealed entry, or the anchor left by archival when the live chain is empty. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

export function auditEvent(
  context: AuditContext,
  action: AuditAction,
  subject: string,
  time: number,
  details?: AuditEvent['details'],
): AuditEvent {
  return details === undefined
    ? { action, actor: context.actor, subject, time, node: context.node }
    : { action, actor: context.actor, subject, time, node: context.node, details };
}
