import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { skewBeyondMargin } from '../../node/skew-beyond-margin.js';
import type { AppDeps } from '../app-deps.js';
import { problemResponses, Timestamp } from '../schemas.js';
import { FollowersView, followersView } from './cluster-followers.js';

const NodeView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  version: Type.String(),
  role: Type.Union([Type.Literal('leader'), Type.Literal('follower')], {
    description: 'leader: runs the singleton background work (expiry sweeps)',
  }),
  startedAt: Timestamp,
  heartbeatAgeMs: Type.Integer({ description: "Age of the node's last heartbeat, by this node's clock" }),
  healthy: Type.Boolean(),
  self: Type.Boolean(),
  // From this node's peer probe (node/peer-probe.ts); absent for itself and before the first probe.
  clockSkewMs: Type.Optional(
    Type.Integer({ description: "That node's clock minus this node's, ms (NTP-style, ±rttMs/2)" }),
  ),
  rttMs: Type.Optional(
    Type.Number({ description: 'Round trip of the probe the skew comes from (fastest of the last 8), ms' }),
  ),
  lastProbeAgeMs: Type.Optional(Type.Integer({ description: 'Age of the last probe of that node, ms' })),
  reachable: Type.Optional(Type.Boolean({ description: 'Whether that node answered the last probe' })),
  maxClockSkewMs: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'The clock margin that node announces (its configuration); absent from nodes of older versions. ' +
        'Every node hands seats over after the widest one (clockMarginInForceMs)',
    }),
  ),
  clockSkewBeyondMargin: Type.Optional(
    Type.Boolean({
      description:
        "True when that node's clock is off by more than maxClockSkewMs beyond the probe's ±rttMs/2: " +
        'a seat may then go to a second client while its holder still uses it (docs/ha.md "Expiry"); fix NTP',
    }),
  ),
});

const ReplicaView = Type.Object({
  primary: Type.String({ description: 'The URL this replica follows' }),
  position: Type.Integer({ description: "The primary's revision everything up to which is applied" }),
  head: Type.Integer({ description: "The primary's newest revision, as last reported" }),
  lagRevisions: Type.Integer(),
  lagSeconds: Type.Number({ description: 'How long the replica has known of changes it has not applied' }),
  lastContactSeconds: Type.Optional(Type.Number({ description: 'Since the primary last answered' })),
  connected: Type.Boolean(),
  appliedChanges: Type.Integer(),
  snapshotReloads: Type.Integer(),
  lastError: Type.Optional(Type.String()),
});

const StoreMemberView = Type.Object({
  name: Type.String(),
  endpoint: Type.String(),
  healthy: Type.Boolean(),
  leader: Type.Boolean(),
  raftTerm: Type.Optional(Type.Integer()),
  dbSizeBytes: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
});

/** What `GET /v1/cluster` answers (the CLI's status table reads it too). */
export const ClusterView = Type.Object({
  node: Type.String(),
  clusterId: Type.String({
    description:
      "RFC 7638 thumbprint of the cluster's identity key: what a vendor binds a license to " +
      '(leasehold license issue --bind-cluster)',
  }),
  store: Type.String(),
  maxClockSkewMs: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: "This node's configured clock margin (maxClockSkewMs)",
    }),
  ),
  clockMarginInForceMs: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'The margin in force on this node: a seat whose lease ran out goes to another client this long after ' +
        "its deadline: the cluster's recorded margin (the widest any node was configured with), never below " +
        'maxClockSkewMs; larger than it when the nodes are configured differently (docs/ha.md "Expiry")',
    }),
  ),
  epoch: Type.Integer({
    minimum: 1,
    description: 'The fencing epoch this node writes (or, on a replica, its primary wrote) under',
  }),
  promotion: Type.Optional(
    Type.Object({
      at: Type.Integer(),
      learningUntil: Type.Integer({ description: 'New grants are held until then (learning mode)' }),
      learning: Type.Boolean(),
      supersedes: Type.Optional(Type.String({ description: 'The old primary' })),
      oldPrimaryFenced: Type.Optional(
        Type.Boolean({ description: 'The old primary acknowledged the fence (this process)' }),
      ),
    }),
  ),
  fenced: Type.Optional(
    Type.Object({
      epoch: Type.Integer(),
      primary: Type.String({ description: 'The primary that superseded this one' }),
      at: Type.Integer(),
    }),
  ),
  nodes: Type.Array(NodeView),
  storeMembers: Type.Array(StoreMemberView),
  replica: Type.Optional(ReplicaView),
  replication: Type.Optional(FollowersView),
});

export const clusterRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/nodes',
    {
      config: { scopes: ['admin', 'operator', 'client'] },
      schema: {
        tags: ['cluster'],
        summary: 'URLs of the nodes with a live heartbeat: what a client SDK refreshes its server list from',
        response: {
          200: Type.Object({ nodes: Type.Array(Type.Object({ id: Type.String(), url: Type.String() })) }),
          ...problemResponses,
        },
      },
    },
    async () => {
      const now = deps.clock.now();
      const ttl = deps.nodeTtlMs ?? 3000;
      const nodes = deps.membership ? await deps.membership.nodes() : [];
      return {
        nodes: nodes.filter((n) => now - n.heartbeatAt < ttl).map((n) => ({ id: n.id, url: n.url })),
      };
    },
  );

  app.get(
    '/v1/cluster',
    {
      // Client tokens get the node list (the SDK refreshes its servers from it) but not the store's members.
      config: { scopes: ['admin', 'operator', 'client'] },
      schema: {
        tags: ['cluster'],
        summary:
          'Nodes (with heartbeat age and role) and, for admins and operators, the store members (etcd leader, raft term, health) ' +
          'and the replicas and edge sites that follow this node',
        response: {
          200: ClusterView,
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const membership = deps.membership;
      const admin = request.principal?.scope === 'admin' || request.principal?.scope === 'operator';
      const now = deps.clock.now();
      const ttl = deps.nodeTtlMs ?? 3000;
      const [nodes, members] = membership
        ? await Promise.all([membership.nodes(), admin ? membership.storeMembers() : []])
        : [[], []];
      const epochState = await (deps.epochs?.current() ?? deps.store.epochState());
      const fencing = deps.promotion?.fencing();
      return {
        node: deps.nodeId,
        clusterId: deps.keyring.clusterId,
        store: deps.store.backend,
        ...(deps.maxClockSkewMs === undefined ? {} : { maxClockSkewMs: deps.maxClockSkewMs }),
        ...(deps.clockMarginInForceMs ? { clockMarginInForceMs: deps.clockMarginInForceMs() } : {}),
        epoch: epochState.epoch,
        ...(epochState.promotion
          ? {
              promotion: {
                ...epochState.promotion,
                learning: now < epochState.promotion.learningUntil,
                ...(fencing ? { oldPrimaryFenced: fencing.delivered } : {}),
              },
            }
          : {}),
        ...(epochState.fenced ? { fenced: epochState.fenced } : {}),
        nodes: nodes.map((n) => {
          const age = Math.max(0, now - n.heartbeatAt);
          return {
            id: n.id,
            url: n.url,
            version: n.version,
            role: n.leads.includes('sweeper') ? ('leader' as const) : ('follower' as const),
            startedAt: new Date(n.startedAt).toISOString(),
            heartbeatAgeMs: Math.round(age),
            healthy: age < ttl,
            self: n.id === deps.nodeId,
            ...(n.maxClockSkewMs === undefined ? {} : { maxClockSkewMs: n.maxClockSkewMs }),
            ...peerView(deps, n.id),
          };
        }),
        storeMembers: members,
        ...(deps.replication ? { replica: await replicaView(deps.replication) } : {}),
        ...(admin ? { replication: await followersView(app.followers, deps.store, now) } : {}),
      };
    },
  );
};

/** A replica node's place in its primary's feed, as /v1/cluster shows it. */
async function replicaView(replication: NonNullable<AppDeps['replication']>) {
  const s = await replication.status();
  return {
    primary: s.primary,
    position: s.position,
    head: s.head,
    lagRevisions: s.lagRevisions,
    lagSeconds: Math.round(s.lagSeconds * 1000) / 1000,
    ...(s.lastContactSeconds === undefined
      ? {}
      : { lastContactSeconds: Math.round(s.lastContactSeconds * 1000) / 1000 }),
    connected: s.connected,
    appliedChanges: s.appliedChanges,
    snapshotReloads: s.snapshotReloads,
    ...(s.lastError === undefined ? {} : { lastError: s.lastError }),
  };
}

/** The peer probe's reading of one node, as /v1/cluster shows it. */
function peerView(deps: AppDeps, id: string) {
  const reading = id === deps.nodeId ? undefined : deps.peerReadings?.().get(id);
  if (!reading) return {};
  const margin = deps.clockMarginInForceMs?.() ?? deps.maxClockSkewMs;
  return {
    ...(reading.clockSkewMs === undefined ? {} : { clockSkewMs: Math.round(reading.clockSkewMs) }),
    ...(reading.rttMs === undefined ? {} : { rttMs: Math.round(reading.rttMs * 10) / 10 }),
    lastProbeAgeMs: Math.max(0, Math.round(deps.clock.monotonic() - reading.probedAt)),
    reachable: reading.reachable,
    ...(margin === undefined ? {} : { clockSkewBeyondMargin: skewBeyondMargin(reading, margin) }),
  };
}
