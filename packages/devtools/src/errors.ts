/**
 * Codes of the operational failures of `@leasehold/devtools`; caller mistakes throw `TypeError` instead.
 *
 * - `ETCD_NOT_FOUND`: no usable etcd binary (run `scripts/fetch-etcd.sh`).
 * - `ETCD_START_FAILED`: a cluster or member did not come up; the message carries its log's last lines.
 * - `ETCD_TIMEOUT`: a bounded wait (health, leader, exit) ran out; the message says what was last seen.
 * - `ETCD_GATEWAY`: an HTTP call to a member's JSON gateway failed or answered an error.
 * - `WAIT_TIMEOUT`: a bounded wait of `pollUntil` for anything else ran out; the message names what.
 * - `SERVER_NOT_FOUND`: `@leasehold/server` is not installed, so no node can be spawned.
 * - `NODE_START_FAILED`: a `leasehold serve` process exited or did not answer in time; the message carries
 *   its output's tail.
 */
export type DevtoolsErrorCode =
  | 'ETCD_NOT_FOUND'
  | 'ETCD_START_FAILED'
  | 'ETCD_TIMEOUT'
  | 'ETCD_GATEWAY'
  | 'WAIT_TIMEOUT'
  | 'SERVER_NOT_FOUND'
  | 'NODE_START_FAILED';

/**
 * The one error class of `@leasehold/devtools`: `switch (err.code)` tells the failures apart.
 *
 * @example
 * ```ts
 * try {
 *   await locateEtcd();
 * } catch (err) {
 *   if (err instanceof DevtoolsError && err.code === 'ETCD_NOT_FOUND') console.error(err.message);
 * }
 * ```
 */
export class DevtoolsError extends Error {
  override readonly name = 'DevtoolsError';
  readonly code: DevtoolsErrorCode;

  constructor(code: DevtoolsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
