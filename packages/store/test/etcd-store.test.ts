import { randomBytes, randomUUID } from 'node:crypto';
import { EtcdStore } from '@leasehold/store';
import { LICENSE_KEYS } from './contract/fixtures.js';
import { describeLeaseStoreContract, type StoreFactory } from './contract/lease-store-contract.js';
import { describeSeatUsageContract } from './contract/seat-usage-contract.js';
import { etcdEndpoints } from './support/etcd.js';

// The same contract suite as SQLite, unchanged, against a real 3-member etcd cluster. Each store gets its
// own key prefix, so runs never see each other's data.
const open: StoreFactory = async (options) => {
  const endpoints = await etcdEndpoints();
  return new EtcdStore({
    ...options,
    endpoints,
    prefix: `/contract-${randomUUID()}/`,
    kek: randomBytes(32),
    licenseKeys: LICENSE_KEYS,
  });
};
describeLeaseStoreContract('etcd', open);
describeSeatUsageContract('etcd', open);
