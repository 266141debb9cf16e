import { EtcdContext } from '../../src/etcd/etcd-context.js';
import type { EtcdGateway } from '../../src/etcd/etcd-gateway.js';
import type { Keyspace } from '../../src/etcd/keyspace.js';
import { Optimistic } from '../../src/etcd/optimistic.js';

/**
 * An EtcdContext over a stub gateway, for tests of one etcd store piece without etcd: a 200 ms budget, no
 * jitter, the data key ready, quorum always reachable, no epochs or codec (the pieces under test that
 * need them get their own).
 */
export function stubEtcdContext(gateway: EtcdGateway, keys: Keyspace): EtcdContext {
  const optimistic = new Optimistic(
    200,
    () => 0.5,
    { ready: true, load: async () => {} },
    () => false,
  );
  return new EtcdContext(
    gateway,
    keys,
    optimistic,
    undefined as never,
    undefined as never,
    Math.random,
    'n1',
  );
}
