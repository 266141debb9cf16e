import type { AuditEntry, AuditHead } from '@leasehold/domain';
import type { UpstreamHttp } from '../replication/upstream-http.js';

export interface BlockRequest {
  readonly site: string;
  readonly licenseId: string;
  readonly feature: string;
  readonly seats: number;
  readonly holdMs: number;
  readonly requestId: string;
}

export interface BlockAnswer {
  readonly seats: number;
  /** How long the primary holds every seat, from when it took the request. */
  readonly heldForMs: number;
  /** The block's deadline on the primary's clock (for display only: the edge counts on its own clock). */
  readonly heldUntil: number;
}

/** The primary's side of an edge's seat blocks and audit upload (`/v1/edge/*`, routes/edge.ts). */
export interface BlockUpstream {
  holdBlock(request: BlockRequest): Promise<BlockAnswer>;
  /** Uploads sealed entries following `previous`; answers the primary's new head for this site. */
  uploadAudit(site: string, previous: AuditHead, entries: readonly AuditEntry[]): Promise<AuditHead>;
}

export class HttpBlockUpstream implements BlockUpstream {
  constructor(private readonly http: UpstreamHttp) {}

  holdBlock(request: BlockRequest): Promise<BlockAnswer> {
    return this.http.call('PUT', '/v1/edge/blocks', {
      site: request.site,
      license: request.licenseId,
      feature: request.feature,
      seats: request.seats,
      holdMs: request.holdMs,
      requestId: request.requestId,
    });
  }

  async uploadAudit(site: string, previous: AuditHead, entries: readonly AuditEntry[]): Promise<AuditHead> {
    const answer = await this.http.call<{ head: AuditHead }>('POST', '/v1/edge/audit', {
      site,
      previous,
      entries: entries.map(({ seq, prevHash, hash, action, actor, subject, time, node, details }) => ({
        seq,
        prevHash,
        hash,
        action,
        actor,
        subject,
        time,
        node,
        ...(details === undefined ? {} : { details }),
      })),
    });
    return answer.head;
  }
}
