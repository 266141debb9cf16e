/**
 * Cluster membership: nodes announce themselves with a heartbeat, see each other, and elect one of them
 * for singleton background work. The embedded store has one node, which is always the leader; the etcd
 * backend keeps each node's key on an etcd lease, so a node that stops heartbeating drops out within its
 * TTL without anyone deleting it.
 */
export interface NodeAnnouncement {
  readonly id: string;
  /** The URL clients and peers use to reach this node. */
  readonly url: string;
  readonly version: string;
  readonly startedAt: number;
  /**
   * The node's configured clock margin (`maxClockSkewMs`), shown per node in /v1/cluster so that a
   * mismatch is easy to find. (Seats follow the cluster's recorded margin, `Membership.clockMargin`.)
   * Absent from nodes of older versions.
   */
  readonly maxClockSkewMs?: number;
}

export interface NodeRecord extends NodeAnnouncement {
  /** Wall-clock time of this node's last heartbeat, by its own clock. */
  readonly heartbeatAt: number;
  /** Singleton tasks this node leads (e.g. `sweeper`). */
  readonly leads: readonly string[];
}

export interface StoreMember {
  readonly name: string;
  readonly endpoint: string;
  readonly healthy: boolean;
  readonly leader: boolean;
  readonly raftTerm: number | undefined;
  readonly dbSizeBytes: number | undefined;
  readonly error?: string;
}

export interface Membership {
  /** Starts heartbeating; resolves once the first heartbeat is in (or keeps trying in the background). */
  join(self: NodeAnnouncement): Promise<void>;
  /** Stops heartbeating and withdraws this node (a graceful leave frees its leadership at once). */
  leave(): Promise<void>;
  /** Nodes whose heartbeat is live. */
  nodes(): Promise<NodeRecord[]>;
  /** The store's own members (etcd members, or the embedded database). */
  storeMembers(): Promise<StoreMember[]>;
  /** Whether this node leads `task` now; a fencing revision when it does. */
  leadership(task: string): { readonly leader: boolean; readonly fence: number | undefined };
  /**
   * The cluster's clock margin, ms, after raising it to at least `configuredMs` (this node's
   * `maxClockSkewMs`): the widest margin any node of the cluster has been configured with, kept in the
   * store so that it outlives the nodes (ClusterSeatHandOver, docs/ha.md "Expiry"). Only an operator
   * lowers it. The embedded store's cluster is one node: its own margin.
   */
  clockMargin(configuredMs: number): Promise<number>;
}

/** The embedded store's membership: one node, always the leader. */
export class SingleNodeMembership implements Membership {
  #self: NodeAnnouncement | undefined;

  constructor(
    private readonly now: () => number,
    private readonly storeName: string,
  ) {}

  async join(self: NodeAnnouncement): Promise<void> {
    this.#self = self;
  }

  async leave(): Promise<void> {
    this.#self = undefined;
  }

  async nodes(): Promise<NodeRecord[]> {
    return this.#self ? [{ ...this.#self, heartbeatAt: this.now(), leads: ['sweeper'] }] : [];
  }

  async storeMembers(): Promise<StoreMember[]> {
    return [
      {
        name: this.storeName,
        endpoint: 'embedded',
        healthy: true,
        leader: true,
        raftTerm: undefined,
        dbSizeBytes: undefined,
      },
    ];
  }

  leadership(): { leader: boolean; fence: number | undefined } {
    return { leader: this.#self !== undefined, fence: undefined };
  }
  async clockMargin(configuredMs: number): Promise<number> {
    return configuredMs;
  }
}
