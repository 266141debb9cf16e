import type { ServerErrorCode } from '../errors/codes.js';
import { ERRORS } from './fake-problem.js';

/** How a fake node treats requests; see {@link FakeNode.mode}. */
export type FakeNodeMode =
  /** Answers. */
  | 'up'
  /** Refuses connections at once (a killed process). */
  | 'down'
  /** Never answers; the request never arrives (a partition, a blackhole). The client's timeout ends it. */
  | 'hang'
  /** Handles the request, then the connection breaks before the answer arrives. */
  | 'drop-response';

/** One node of a {@link FakeCluster}. */
export interface FakeNode {
  readonly url: string;
  mode: FakeNodeMode;
  /** Simulated answer time, on the cluster's clock (default 0). */
  latencyMs: number;
  /** Rewrites each answer body before it is sent: a compromised or broken node (a tampered token, a lie). */
  rewriteAnswer: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined;
  /** Handles matching requests, then breaks the connection before the answer: `drop-response`, selectively. */
  dropAnswerIf: ((request: FakeRequest) => boolean) | undefined;
  /** Answers the next `times` requests with this error code (e.g. `STORE_UNAVAILABLE`), handling nothing. */
  failNext(code: string, times?: number): void;
}

/** A request a fake node received. */
export interface FakeRequest {
  readonly node: string;
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, unknown> | undefined;
}

/** A node's switches, as the cluster reads them on each request. */
export class Node implements FakeNode {
  mode: FakeNodeMode = 'up';
  latencyMs = 0;
  rewriteAnswer: FakeNode['rewriteAnswer'];
  dropAnswerIf: FakeNode['dropAnswerIf'];
  failures: { code: ServerErrorCode; times: number } | undefined;
  constructor(readonly url: string) {}
  failNext(code: string, times = 1): void {
    if (!Object.hasOwn(ERRORS, code)) throw new TypeError(`unknown error code ${code}`);
    this.failures = { code: code as ServerErrorCode, times };
  }
}
