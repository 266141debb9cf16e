import { randomBytes, randomUUID } from 'node:crypto';
import { EtcdStore } from '@leasehold/store';
import { describeAuditContract } from './contract/audit-contract.js';
import { LICENSE_KEYS } from './contract/fixtures.js';
import { etcdEndpoints } from './support/etcd.js';

// The audit contract against a real 3-member etcd cluster (one key prefix per store).
describeAuditContract('etcd', async () => {
  const endpoints = await etcdEndpoints();
  return new EtcdStore({
    endpoints,
    prefix: `/audit-${randomUUID()}/`,
    kek: randomBytes(32),
    licenseKeys: LICENSE_KEYS,
  });
});
