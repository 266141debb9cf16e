import { type Clock, isClockMargin, LeaseholdError, PeriodicTask } from '@leasehold/domain';
import type { Lease as EtcdLease } from 'etcd3';
import type { Membership, NodeAnnouncement, NodeRecord, StoreMember } from '../port/membership.js';
import { type EtcdGateway, EtcdTransientError, storeUnavailable } from './etcd-gateway.js';
import { postGateway } from './json-gateway.js';
import type { Keyspace } from './keyspace.js';

/** Raises of the cluster clock margin that lost a race before `clockMargin` gives up (each re-reads). */
const CLOCK_MARGIN_ATTEMPTS = 5;

export interface EtcdMembershipOptions {
  readonly gateway: EtcdGateway;
  readonly keys: Keyspace;
  readonly endpoints: readonly string[];
  /** How often a node heartbeats (keep-alive + record refresh). */
  readonly heartbeatMs: number;
  /** Whole seconds (an etcd lease TTL); a node that stops heartbeating drops out after this. */
  readonly ttlSeconds: number;
  /** Paces the heartbeat and stamps the node record (`heartbeatAt`). */
  readonly clock: Clock;
  /** Singleton tasks this node may lead. */
  readonly tasks: readonly string[];
  readonly onError?: (err: unknown) => void;
}

/**
 * Membership on etcd. Each node holds one etcd lease (TTL `ttlSeconds`) and keeps it alive every
 * `heartbeatMs`; its record `nodes/{id}` and any election keys it wins are attached to that lease, so a
 * dead node's record and leadership vanish together within the TTL, with no other node acting.
 *
 * Elections are create-if-absent on `elections/{task}/leader` with the node's lease: whoever created the
 * key leads, and the key's create revision is the fencing number for the leader's writes. Losers retry
 * at every heartbeat. A node whose lease was lost (a long etcd outage, a pause) grants a new one and
 * re-registers on its next heartbeat: it rejoins by itself.
 */
export class EtcdMembership implements Membership {
  #lease: EtcdLease | undefined;
  #self: NodeAnnouncement | undefined;
  readonly #beats: PeriodicTask;
  readonly #leading = new Map<string, number>();

  constructor(private readonly options: EtcdMembershipOptions) {
    this.#beats = new PeriodicTask({
      clock: options.clock,
      intervalMs: options.heartbeatMs,
      run: () => this.#heartbeat(),
      onError: (err) => options.onError?.(err),
    });
  }

  async join(self: NodeAnnouncement): Promise<void> {
    this.#self = self;
    this.#beats.start();
    await this.#beats.trigger();
  }

  async #heartbeat(): Promise<void> {
    const self = this.#self;
    if (!self) return;
    try {
      const lease = await this.#liveLease();
      const record: NodeRecord = {
        ...self,
        heartbeatAt: this.options.clock.now(),
        leads: [...this.#leading.keys()],
      };
      await lease.put(this.options.keys.node(self.id)).value(JSON.stringify(record));
      for (const task of this.options.tasks) await this.#campaign(task, lease);
    } catch (err) {
      // Leadership cannot be trusted past a failed heartbeat: step down until one succeeds again.
      this.#leading.clear();
      this.options.onError?.(err);
    }
  }

  /** The node's etcd lease, kept alive; a new one when the old one expired (auto-rejoin). */
  async #liveLease(): Promise<EtcdLease> {
    if (this.#lease) {
      try {
        const answer = await this.#lease.keepaliveOnce();
        if (Number(answer.TTL) > 0) return this.#lease;
      } catch {
        // fall through: grant a new lease
      }
      this.#lease.release();
      this.#lease = undefined;
      this.#leading.clear();
    }
    const lease = this.options.gateway.client.lease(this.options.ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', () => undefined); // handled by the next heartbeat
    await lease.grant();
    this.#lease = lease;
    return lease;
  }

  async #campaign(task: string, lease: EtcdLease): Promise<void> {
    const key = `${this.options.keys.election(task)}leader`;
    const id = await lease.grant();
    const client = this.options.gateway.client;
    const result = await client
      .if(key, 'Create', '==', 0)
      .then(
        client
          .put(key)
          .value(this.#self?.id ?? '')
          .lease(id),
      )
      .else(client.get(key))
      .commit();
    if (result.succeeded) {
      this.#leading.set(task, Number(result.header.revision));
      return;
    }
    const holder = result.responses[0]?.response_range?.kvs?.[0];
    if (holder && holder.lease === id) this.#leading.set(task, Number(holder.create_revision));
    else this.#leading.delete(task);
  }

  /** Resolves once the heartbeat in progress, if any, has ended (tests that step a manual clock). */
  heartbeatSettled(): Promise<void> {
    return this.#beats.settled();
  }

  async leave(): Promise<void> {
    await this.#beats.stop();
    this.#leading.clear();
    const lease = this.#lease;
    this.#lease = undefined;
    this.#self = undefined;
    // Revoking deletes the node record and any election key at once, so a successor takes over now.
    await lease?.revoke().catch(() => undefined);
  }

  leadership(task: string): { leader: boolean; fence: number | undefined } {
    const fence = this.#leading.get(task);
    return { leader: fence !== undefined, fence };
  }

  async nodes(): Promise<NodeRecord[]> {
    const { results } = await this.options.gateway.read([{ prefix: this.options.keys.nodes() }]);
    return (results[0] ?? [])
      .map((kv) => JSON.parse(kv.value.toString()) as NodeRecord)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async clockMargin(configuredMs: number): Promise<number> {
    // Unreachable etcd (the gateway's transient error) is STORE_UNAVAILABLE, as for every store operation:
    // a node starting before etcd is up retries its start-up on that code (untilStoreAnswers) instead of
    // exiting. Any other error is a bug and stays as it is.
    return this.#raiseClockMargin(configuredMs).catch((err: unknown) => {
      throw err instanceof EtcdTransientError ? storeUnavailable(err) : err;
    });
  }

  async #raiseClockMargin(configuredMs: number): Promise<number> {
    const { gateway, keys } = this.options;
    const key = keys.clockMargin();
    // A raise races only other raises (each to at least its own margin) and an operator's lowering: a
    // compare on the key's mod revision, and the next attempt reads the winner.
    for (let attempt = 0; attempt < CLOCK_MARGIN_ATTEMPTS; attempt++) {
      const kv = (await gateway.read([{ key }])).results[0]?.[0];
      const recorded = kv ? Number(kv.value.toString()) : undefined;
      // A value that is not a margin (hand-edited) is replaced, as an absent one is.
      if (isClockMargin(recorded) && recorded >= configuredMs) return recorded;
      const raised = await gateway.txn(
        [{ key, target: 'Mod', equals: kv?.modRevision ?? 0 }],
        [{ put: key, value: String(configuredMs) }],
      );
      if (raised.succeeded) return configuredMs;
    }
    throw new LeaseholdError(
      'STORE_UNAVAILABLE',
      'the cluster clock margin kept changing while it was raised',
    );
  }

  /** Asks every endpoint for its status (via etcd's JSON gateway) so an unreachable member shows as such. */
  async storeMembers(): Promise<StoreMember[]> {
    return Promise.all(
      this.options.endpoints.map(async (endpoint): Promise<StoreMember> => {
        try {
          // With mutual TLS the gateway wants the same client certificate as gRPC.
          const response = await postGateway(
            `${endpoint.replace(/\/+$/, '')}/v3/maintenance/status`,
            {},
            { credentials: this.options.gateway.credentials, timeoutMs: 1000 },
          );
          const status = response.json as {
            header?: { member_id?: string };
            leader?: string;
            raftTerm?: string;
            dbSize?: string;
            errors?: string[];
          };
          const errors = status.errors ?? [];
          return {
            name: status.header?.member_id ?? endpoint,
            endpoint,
            healthy:
              response.status === 200 &&
              errors.length === 0 &&
              status.leader !== undefined &&
              status.leader !== '0',
            leader: status.leader !== undefined && status.leader === status.header?.member_id,
            raftTerm: status.raftTerm === undefined ? undefined : Number(status.raftTerm),
            dbSizeBytes: status.dbSize === undefined ? undefined : Number(status.dbSize),
            ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
          };
        } catch (err) {
          return {
            name: endpoint,
            endpoint,
            healthy: false,
            leader: false,
            raftTerm: undefined,
            dbSizeBytes: undefined,
            error: (err as Error).message,
          };
        }
      }),
    );
  }
}
