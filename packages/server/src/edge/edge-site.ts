import { join } from 'node:path';
import { type Clock, type LicenseVerificationKeys, PeriodicTask } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { AuditUploader } from './audit-uploader.js';
import { type BlockUpstream, HttpBlockUpstream } from './block-upstream.js';
import { type EdgeSource, HttpEdgeSource } from './edge-source.js';
import { EdgeSync } from './edge-sync.js';
import { type HeldBlockStatus, SeatBlockKeeper } from './seat-block-keeper.js';
import type { SeatBlockSpec } from './seat-block-spec.js';
import { UpstreamHttp } from './upstream-http.js';

export interface EdgeSiteOptions {
  readonly primaryUrl: string;
  readonly upstreamToken: string;
  readonly site: string;
  readonly blocks: readonly SeatBlockSpec[];
  readonly blockTtlMs: number;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly dataDir: string;
  readonly log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** Injected in tests; HTTP to the primary otherwise. */
  readonly source?: EdgeSource;
  readonly upstream?: BlockUpstream;
}

export interface EdgeStatus {
  readonly primary: string;
  readonly site: string;
  readonly blockTtlMs: number;
  readonly blocks: readonly HeldBlockStatus[];
  /** The last audit seq the primary accepted from this edge. */
  readonly auditUploadedSeq: number;
}

/**
 * An edge site (docs/replication.md): its seat blocks (the store's cap, renewed at a third of the TTL),
 * the licenses and client tokens it copies from the primary, and its audit upload. Three loops, so a
 * slow license read never delays a block renewal. The keeper exists before the store opens (the store
 * asks it in every checkout); `attach` gives it the store once open.
 */
export class EdgeSite {
  readonly keeper: SeatBlockKeeper;
  readonly #options: EdgeSiteOptions;
  readonly #source: EdgeSource;
  readonly #upstream: BlockUpstream;
  readonly #tasks: PeriodicTask[] = [];
  #store: LeaseStore | undefined;
  #uploader: AuditUploader | undefined;

  constructor(options: EdgeSiteOptions) {
    this.#options = options;
    // A call to a cut primary blackholes: give up well inside a third of the TTL, so a renewal that gets
    // through after the cut is not queued behind a dead one.
    const http = new UpstreamHttp({
      baseUrl: options.primaryUrl,
      token: options.upstreamToken,
      follower: options.site,
      timeoutMs: Math.min(10_000, Math.max(250, options.blockTtlMs / 6)),
    });
    this.#source = options.source ?? new HttpEdgeSource(http);
    this.#upstream = options.upstream ?? new HttpBlockUpstream(http);
    this.keeper = new SeatBlockKeeper({
      site: options.site,
      blocks: options.blocks,
      blockTtlMs: options.blockTtlMs,
      upstream: this.#upstream,
      store: { seatUsage: (now) => this.#attached().seatUsage(now) },
      clock: options.clock,
      newId: options.newId,
    });
  }

  /** Starts the loops on the opened store, with the edge's trusted vendor keys and its own cluster id. */
  start(store: LeaseStore, licenseKeys: LicenseVerificationKeys, clusterId: string): void {
    const { clock, log, site, blockTtlMs } = this.#options;
    this.#store = store;
    const sync = new EdgeSync({
      source: this.#source,
      store,
      licenseIds: [...new Set(this.#options.blocks.map((b) => b.licenseId))],
      licenseKeys,
      clusterId,
      clock,
      audit: { actor: 'system:edge', node: site },
    });
    this.#uploader = new AuditUploader(
      site,
      store,
      this.#upstream,
      join(this.#options.dataDir, 'edge-audit-head.json'),
    );
    const uploader = this.#uploader;
    const tick = tickMs(blockTtlMs);
    this.#tasks.push(
      new PeriodicTask({
        clock,
        intervalMs: tick,
        run: () => this.keeper.renewDue(),
        onError: (err) =>
          log.warn({ err }, 'edge: seat block renewal failed; the block counts down meanwhile'),
      }),
      new PeriodicTask({
        clock,
        intervalMs: Math.max(tick, Math.min(10_000, blockTtlMs / 3)),
        run: () => sync.syncOnce(),
        onError: (err) => log.warn({ err }, 'edge: license and token sync failed'),
      }),
      new PeriodicTask({
        clock,
        intervalMs: Math.max(tick, 1000),
        run: () => uploader.uploadOnce(),
        onError: (err) => log.warn({ err }, 'edge: audit upload failed; it resumes where it stopped'),
      }),
    );
    for (const task of this.#tasks) {
      task.start();
      task.trigger();
    }
    log.info({ primary: this.#options.primaryUrl, blocks: this.#options.blocks }, 'edge site started');
  }

  async stop(): Promise<void> {
    await Promise.all(this.#tasks.map((t) => t.stop()));
  }

  status(): EdgeStatus {
    return {
      primary: this.#options.primaryUrl,
      site: this.#options.site,
      blockTtlMs: this.#options.blockTtlMs,
      blocks: this.keeper.status(),
      auditUploadedSeq: this.#uploader?.head.seq ?? 0,
    };
  }

  #attached(): LeaseStore {
    if (!this.#store) throw new Error('the edge site has no store yet');
    return this.#store;
  }
}

/** How often the block loop looks: a sixth of the TTL (so a third is never missed by much), 100 ms-5 s. */
function tickMs(blockTtlMs: number): number {
  return Math.min(5000, Math.max(100, Math.floor(blockTtlMs / 6)));
}
