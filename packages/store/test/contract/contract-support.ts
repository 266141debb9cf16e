import { randomUUID } from 'node:crypto';
import { LeaseholdError } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { expect } from 'vitest';
import { client, T0 } from './fixtures.js';

// What the contract's case files share: how a backend opens a store, and two helpers of every case.

/** Store options a contract case may ask its backend for (the rest is the backend's test default). */
export interface ContractStoreOptions {
  readonly maxClockSkewMs?: number;
}

export type StoreFactory = (options?: ContractStoreOptions) => Promise<LeaseStore>;

export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(LeaseholdError);
  expect((err as LeaseholdError).code).toBe(code);
}

/** A checkout through the store port, with the suite's defaults (client `c1`, T0, feature `solver`). */
export function contractCheckout(store: () => LeaseStore) {
  return (requestId: string, clientId = 'c1', now = T0, feature = 'solver', licenseId?: string) =>
    store().acquireSeat({
      leaseId: randomUUID(),
      requestId,
      feature,
      licenseId,
      client: client(clientId),
      now,
    });
}
