import { randomBytes, randomUUID } from 'node:crypto';
import { EtcdStore, type LeaseStore } from '@leasehold/store';
import { describeEpochContract } from './contract/epoch-contract.js';
import { describeFeedContract } from './contract/feed-contract.js';
import { LICENSE_KEYS } from './contract/fixtures.js';
import { etcdEndpoints } from './support/etcd.js';

// The same feed contract against a real 3-member etcd cluster, each store under its own prefix.
describeFeedContract('etcd', {
  open: async () =>
    new EtcdStore({
      licenseKeys: LICENSE_KEYS,
      endpoints: await etcdEndpoints(),
      prefix: `/feed-${randomUUID()}/`,
      kek: randomBytes(32),
    }),
  compact: async (store: LeaseStore) => {
    const etcd = store as EtcdStore;
    const { revision } = await etcd.gateway.read([{ key: etcd.keys.licenseRev() }]);
    await etcd.gateway.client.kv.compact({ revision: String(revision), physical: true });
  },
});

describeEpochContract(
  'etcd',
  async () =>
    new EtcdStore({
      licenseKeys: LICENSE_KEYS,
      endpoints: await etcdEndpoints(),
      prefix: `/epoch-${randomUUID()}/`,
      kek: randomBytes(32),
    }),
);
