import type { CheckoutOptions } from './leasehold-client.js';
import { rejectUnknown } from './options.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/; // the server's CheckoutBody.requestId
// A misspelt `requestId` would silently get a fresh id and lose idempotency: unknown keys are refused.
const CHECKOUT_KEYS: ReadonlySet<string> = new Set(['license', 'requestId', 'autoRenew', 'signal']);

/** The arguments of a checkout, checked, with their defaults. */
export interface CheckoutArgs {
  readonly license: string | undefined;
  readonly requestId: string;
  readonly autoRenew: boolean;
  readonly signal: AbortSignal | undefined;
}

/** Checks `checkout`'s arguments (a mistake is a `TypeError` naming it) and fills in the defaults. */
export function checkCheckoutArgs(
  feature: string,
  options: CheckoutOptions,
  newRequestId: () => string,
): CheckoutArgs {
  if (typeof feature !== 'string' || feature === '')
    throw new TypeError('feature must be a non-empty string');
  rejectUnknown(options, CHECKOUT_KEYS, 'checkout option');
  const { license, autoRenew = true, signal } = options;
  if (license !== undefined && (typeof license !== 'string' || license === '')) {
    throw new TypeError('options.license must be a non-empty string');
  }
  if (typeof autoRenew !== 'boolean') throw new TypeError('options.autoRenew must be a boolean');
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError('options.signal must be an AbortSignal');
  }
  // Chosen once, before the first attempt: every retry and failover carries the same key (DESIGN.md,
  // invariant 2), so an attempt whose answer was lost is resolved by the store, not repeated.
  const requestId = options.requestId ?? newRequestId();
  if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) {
    throw new TypeError('options.requestId must be 8-128 characters of A-Z a-z 0-9 . _ : -');
  }
  return { license, requestId, autoRenew, signal };
}
