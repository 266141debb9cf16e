import type { ChangePage, ReplicationSnapshot } from '@leasehold/store';
import type { FetchLike, UpstreamTls } from './upstream-fetch.js';
import { UpstreamHttp } from './upstream-http.js';

export interface UpstreamFeedOptions {
  /** The primary's base URL (`https://primary:7300`). */
  readonly url: string;
  /** A `replica`-scope token of the primary. */
  readonly token: string;
  readonly tls?: UpstreamTls | undefined;
  /** This node's id, sent so the primary knows its followers (omitted when it is not a usable id). */
  readonly follower?: string | undefined;
  /** Injected in tests; `upstreamFetch(tls)` otherwise. */
  readonly fetch?: FetchLike;
}

/** The reading side of a primary's feed, as the replica follower (and an edge) uses it. */
export interface UpstreamFeed {
  readonly url: string;
  /** Throws the primary's coded error (REPLICATION_HISTORY_COMPACTED, …), UPSTREAM_TLS_FAILED or STORE_UNAVAILABLE. */
  changes(after: number, limit: number, waitMs: number, signal?: AbortSignal): Promise<ChangePage>;
  snapshot(signal?: AbortSignal): Promise<ReplicationSnapshot>;
}

/**
 * The primary's feed over HTTP(S) with a bearer token and, when given, a client certificate: calls through
 * `UpstreamHttp`, the same client an edge site uses for its blocks.
 */
export class HttpUpstreamFeed implements UpstreamFeed {
  readonly url: string;
  readonly #http: UpstreamHttp;

  constructor(options: UpstreamFeedOptions) {
    this.#http = new UpstreamHttp({
      baseUrl: options.url,
      token: options.token,
      tls: options.tls,
      follower: options.follower,
      timeoutMs: 60_000,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.url = this.#http.baseUrl;
  }

  changes(after: number, limit: number, waitMs: number, signal?: AbortSignal): Promise<ChangePage> {
    const wait = `${Math.max(0, Math.round(waitMs))}ms`;
    return this.#http.call<ChangePage>(
      'GET',
      `/v1/replication/changes?after=${after}&limit=${limit}&wait=${wait}`,
      undefined,
      { timeoutMs: waitMs + 15_000, signal },
    );
  }

  snapshot(signal?: AbortSignal): Promise<ReplicationSnapshot> {
    return this.#http.call<ReplicationSnapshot>('GET', '/v1/replication/snapshot', undefined, {
      timeoutMs: 60_000,
      signal,
    });
  }

  /**
   * Tells this (old) primary it was superseded (docs/replication.md, "Promotion"): the signed statement
   * is the authority, so no bearer token is sent. Answers the primary's epoch state.
   */
  fence(statement: string, signal?: AbortSignal): Promise<{ epoch: number }> {
    return this.#http.call<{ epoch: number }>(
      'POST',
      '/v1/replication/fence',
      { statement },
      { timeoutMs: 2000, signal, anonymous: true },
    );
  }
}
