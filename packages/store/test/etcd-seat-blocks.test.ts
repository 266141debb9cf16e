import { randomBytes, randomUUID } from 'node:crypto';
import { EtcdStore } from '@leasehold/store';
import { LICENSE_KEYS } from './contract/fixtures.js';
import { describeSeatBlockContract } from './contract/seat-block-contract.js';
import { etcdEndpoints } from './support/etcd.js';

// The seat-block contract against a real 3-member etcd cluster (one key prefix per store).
describeSeatBlockContract('etcd', async () => {
  const endpoints = await etcdEndpoints();
  return new EtcdStore({
    endpoints,
    prefix: `/blocks-${randomUUID()}/`,
    kek: randomBytes(32),
    licenseKeys: LICENSE_KEYS,
  });
});
