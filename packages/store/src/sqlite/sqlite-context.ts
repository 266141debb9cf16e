import { type AuditContext, type AuditEvent, EXACT_HAND_OVER, type SeatHandOver } from '@leasehold/domain';
import type { RecordCipher } from '../crypto/record-cipher.js';
import type { SeatCap } from '../port/seat-cap.js';
import type { SqliteAudit } from './sqlite-audit.js';
import type { SqliteChangeLog } from './sqlite-change-log.js';
import type { SqliteConnection } from './sqlite-connection.js';
import type { SqliteEpochs } from './sqlite-epoch.js';

/** What every SQLite collaborator (licenses, checkout, leases, tokens, signing keys) works with. */
export class SqliteContext {
  constructor(
    readonly conn: SqliteConnection,
    readonly cipher: RecordCipher,
    readonly audit: SqliteAudit,
    /** The node named by audit records of calls that pass no audit context (docs/audit.md). */
    readonly node: string,
    /** The change feed's table: every write of a replicated record appends to it (docs/replication.md). */
    readonly changes: SqliteChangeLog,
    /** The fencing epoch: every lease write checks it in its own transaction (docs/replication.md). */
    readonly epochs: SqliteEpochs,
    /** An edge node's seat blocks: checkouts and renewals stay inside them (docs/replication.md). */
    readonly seatCap: SeatCap | undefined = undefined,
    /** When a seat whose lease ran out may go to another lease: its deadline plus the clock margin. */
    readonly handOver: SeatHandOver = EXACT_HAND_OVER,
  ) {}

  get sql(): SqliteConnection['sql'] {
    return this.conn.sql;
  }

  /** Who a change is recorded as made by: the caller's context, else this node's system actor. */
  actor(audit: AuditContext | undefined): AuditContext {
    return audit ?? { actor: 'system', node: this.node };
  }

  /** Records `event` as pending, inside the change's own transaction. */
  record(event: AuditEvent): void {
    this.audit.record(event);
  }
}
