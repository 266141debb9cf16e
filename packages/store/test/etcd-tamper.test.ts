import { randomBytes, randomUUID } from 'node:crypto';
import { EtcdStore } from '@leasehold/store';
import { LICENSE_KEYS, T0 } from './contract/fixtures.js';
import { describeTamperContract, type TamperEdit } from './contract/tamper-contract.js';
import { etcdEndpoints } from './support/etcd.js';

interface StoredRecord {
  entitlements: { feature: string; seats: number }[];
  expiresAt: number;
  lease: { ttlMs: number };
}

/** The edits on the license's JSON value, as anyone with write access to the etcd keyspace can make them. */
const EDITS: Record<TamperEdit, (record: StoredRecord) => void> = {
  seats: (r) => {
    for (const e of r.entitlements) if (e.feature === 'solver') e.seats = 1000;
  },
  expiry: (r) => {
    r.expiresAt += 3650 * 86_400_000;
  },
  feature: (r) => {
    r.entitlements.push({ feature: 'extra', seats: 50 });
  },
  policy: (r) => {
    r.lease.ttlMs = 86_400_000;
  },
};

// The same suite as SQLite, against a real 3-member etcd cluster (devtools' EtcdCluster), one prefix each.
describeTamperContract('etcd', async () => {
  const endpoints = await etcdEndpoints();
  const prefix = `/tamper-${randomUUID()}/`;
  const kek = randomBytes(32);
  const open = (keys = LICENSE_KEYS) =>
    new EtcdStore({ endpoints, prefix, kek, licenseKeys: keys, now: () => T0 + 5 });
  return {
    async open(keys) {
      return open(keys);
    },
    async edit(id, edit) {
      // A raw client of its own (the gateway of a throwaway store), as an attacker would use etcdctl.
      const writer = open();
      try {
        const { results } = await writer.gateway.read([{ key: writer.keys.license(id) }]);
        const kv = results[0]?.[0];
        if (!kv) throw new Error(`no license record ${id}`);
        const record = JSON.parse(kv.value.toString()) as StoredRecord;
        EDITS[edit](record);
        await writer.gateway.txn(
          [],
          [
            { put: kv.key.toString(), value: JSON.stringify(record) },
            { put: writer.keys.licenseRev(), value: id },
          ],
        );
      } finally {
        await writer.close();
      }
    },
  };
});
