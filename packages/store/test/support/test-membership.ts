import type { Clock } from '@leasehold/domain';
import { EtcdMembership, type EtcdStore } from '@leasehold/store';

/** Membership on a test's etcd store: 1 s heartbeats, a 10 s node TTL, the sweeper election. */
export function testMembership(store: EtcdStore, endpoints: readonly string[], clock: Clock): EtcdMembership {
  return new EtcdMembership({
    gateway: store.gateway,
    keys: store.keys,
    endpoints,
    heartbeatMs: 1000,
    ttlSeconds: 10,
    clock,
    tasks: ['sweeper'],
  });
}
