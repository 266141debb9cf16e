import { join } from 'node:path';
import { type Clock, type LicenseVerificationKeys, PeriodicTask } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { HttpUpstreamFeed } from '../replication/upstream-feed.js';
import type { UpstreamTls } from '../replication/upstream-fetch.js';
import { UpstreamHttp } from '../replication/upstream-http.js';
import { AuditUploader } from './audit-uploader.js';
import { type BlockUpstream, HttpBlockUpstream } from './block-upstream.js';
import { type EdgeSource, HttpEdgeSource } from './edge-source.js';
import { EdgeSync } from './edge-sync.js';
import { FeedEdgeSource } from './feed-edge-source.js';
import { type HeldBlockStatus, SeatBlockKeeper } from './seat-block-keeper.js';
import type { SeatBlockSpec } from './seat-block-spec.js';

export interface EdgeSiteOptions {
  readonly primaryUrl: string;
  readonly upstreamToken: string;
  /** TLS toward the primary (`upstreamTls*`): its CA, and the client certificate an mTLS primary requires. */
  readonly tls?: UpstreamTls | undefined;
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
  /** How it copies licenses and tokens: the change feed (replica or admin token) or two polled reads. */
  readonly copiesFrom: 'feed' | 'reads';
}

/** Tokens that may read the change feed (`lh_<scope>_…`, tokens/api-token.ts); a client token may not. */
const FEED_TOKEN = /^lh_(replica|admin)_/;

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
  readonly #feed: FeedEdgeSource | undefined;
  readonly #upstream: BlockUpstream;
  readonly #tasks: PeriodicTask[] = [];
  #store: LeaseStore | undefined;
  #uploader: AuditUploader | undefined;

  constructor(options: EdgeSiteOptions) {
    this.#options = options;
    // One client for the blocks, the polled reads and the audit upload; the feed (below) has its own with
    // the same TLS identity. A call to a cut primary blackholes: give up well inside a third of the TTL, so a renewal that gets
    // through after the cut is not queued behind a dead one.
    const http = new UpstreamHttp({
      baseUrl: options.primaryUrl,
      token: options.upstreamToken,
      tls: options.tls,
      follower: options.site,
      timeoutMs: Math.min(10_000, Math.max(250, options.blockTtlMs / 6)),
    });
    // With a token that may read it, licenses and tokens come from the change feed (a revocation arrives
    // with the long-poll's answer); a client token reads them with two polled requests.
    this.#feed =
      options.source === undefined && FEED_TOKEN.test(options.upstreamToken)
        ? new FeedEdgeSource({
            upstream: new HttpUpstreamFeed({
              url: options.primaryUrl,
              token: options.upstreamToken,
              tls: options.tls,
              follower: options.site,
            }),
            clock: options.clock,
            log: options.log,
          })
        : undefined;
    this.#source = options.source ?? this.#feed ?? new HttpEdgeSource(http);
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
    this.#feed?.start();
    for (const task of this.#tasks) {
      task.start();
      task.trigger();
    }
    log.info({ primary: this.#options.primaryUrl, blocks: this.#options.blocks }, 'edge site started');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#tasks.map((t) => t.stop()), this.#feed?.stop()]);
  }

  status(): EdgeStatus {
    return {
      primary: this.#options.primaryUrl,
      site: this.#options.site,
      blockTtlMs: this.#options.blockTtlMs,
      blocks: this.keeper.status(),
      auditUploadedSeq: this.#uploader?.head.seq ?? 0,
      copiesFrom: this.#feed ? 'feed' : 'reads',
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
