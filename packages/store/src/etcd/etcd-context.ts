import { type AuditContext, type AuditEvent, EXACT_HAND_OVER, type SeatHandOver } from '@leasehold/domain';
import type { RecordCipher } from '../crypto/record-cipher.js';
import { commit } from './conflict.js';
import type { EtcdAudit } from './etcd-audit.js';
import type { EtcdDataKey } from './etcd-data-key.js';
import type { Compare, EtcdGateway, WriteOp } from './etcd-gateway.js';
import type { Keyspace } from './keyspace.js';
import type { Optimistic } from './optimistic.js';

/** What every etcd collaborator (licenses, checkout, leases, tokens, signing keys) works with. */
export class EtcdContext {
  constructor(
    readonly gateway: EtcdGateway,
    readonly keys: Keyspace,
    readonly optimistic: Optimistic,
    readonly dataKey: EtcdDataKey,
    readonly audit: EtcdAudit,
    /** Randomness for slot choice (injected, STYLE.md rule 4). */
    readonly random: () => number,
    /** The node named by audit records of calls that pass no audit context (docs/audit.md). */
    readonly node: string,
    /** When a seat whose lease ran out may go to another lease: its deadline plus the clock margin. */
    readonly handOver: SeatHandOver = EXACT_HAND_OVER,
  ) {}

  /** Runs one compare-guarded transaction; a failed compare throws Conflict (the attempt re-reads). */
  commit(compare: readonly Compare[], writes: readonly WriteOp[]): Promise<number> {
    return commit(this.gateway, compare, writes);
  }

  sealer(): RecordCipher {
    return this.dataKey.sealer();
  }

  /** Who a change is recorded as made by: the caller's context, else this node's system actor. */
  actor(audit: AuditContext | undefined): AuditContext {
    return audit ?? { actor: 'system', node: this.node };
  }

  /** The pending audit record of a change, as one more write in the change's own transaction. */
  pending(event: AuditEvent): WriteOp {
    return this.audit.pendingWrite(event);
  }
}
