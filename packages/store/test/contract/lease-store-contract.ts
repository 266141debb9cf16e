import type { LeaseStore } from '@leasehold/store';
import { afterEach, beforeEach, describe } from 'vitest';
import { describeCheckoutContract } from './checkout-contract.js';
import { describeClockMarginContract } from './clock-margin-contract.js';
import type { StoreFactory } from './contract-support.js';
import { describeKeysAndTokensContract } from './keys-and-tokens-contract.js';
import { describeLeaseLifecycleContract } from './lease-lifecycle-contract.js';
import { describeLicenseContract } from './license-contract.js';
import { describeRenewAndListingContract } from './renew-and-listing-contract.js';
import { describeSeatModel } from './seat-model.js';

// The helpers every contract case file uses, exported here too for the files that import them from here.
export { type ContractStoreOptions, expectCode, type StoreFactory } from './contract-support.js';

/**
 * The store contract: every backend of the store port runs this suite unchanged (as undici runs one
 * suite against every cache store). It pins behaviour, not implementation. The cases live in one file per
 * theme beside this one, each registered here against the same store.
 */
export function describeLeaseStoreContract(backend: string, open: StoreFactory): void {
  describe(`LeaseStore contract: ${backend}`, () => {
    let store: LeaseStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    const current = () => store;
    describeLicenseContract(current);
    describeCheckoutContract(current);
    describeLeaseLifecycleContract(current);
    describeKeysAndTokensContract(current);
    describeRenewAndListingContract(current);
    describeSeatModel(open);
  });
  describeClockMarginContract(backend, open);
}
