/**
 * Codes of the operational failures of `@leasehold/devtools`; caller mistakes throw `TypeError` instead.
 *
 * - `ETCD_NOT_FOUND`: no usable etcd binary (run `scripts/fetch-etcd.sh`).
 * - `ETCD_START_FAILED`: a cluster or member did not come up; the message carries its log's last lines.
 * - `ETCD_TIMEOUT`: a bounded wait (health, leader, exit) ran out; the message says what was last seen.
 * - `ETCD_GATEWAY`: an HTTP call to a member's JSON gateway failed or answered an error.
 */
export type DevtoolsErrorCode = 'ETCD_NOT_FOUND' | 'ETCD_START_FAILED' | 'ETCD_TIMEOUT' | 'ETCD_GATEWAY';

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
