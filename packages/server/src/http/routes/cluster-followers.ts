import type { LeaseStore, SeatBlock } from '@leasehold/store';
import Type, { type Static } from 'typebox';
import type { FollowerRegistry } from '../../replication/follower-registry.js';
import { SeatBlockView, seatBlockView } from './edge.js';

const FollowerView = Type.Object({
  id: Type.String({ description: "The follower's node id (an edge's: its site), or unnamed@ADDRESS" }),
  role: Type.Union([Type.Literal('replica'), Type.Literal('edge')]),
  identified: Type.Boolean({ description: 'False: it sent no leasehold-follower header (an older version)' }),
  address: Type.Optional(Type.String({ description: 'Where its last request came from' })),
  lastSeenSeconds: Type.Optional(
    Type.Number({
      description: 'Since its last request to this node; absent for an edge known only by its blocks',
    }),
  ),
  polling: Type.Optional(Type.Boolean({ description: 'A feed request (long-poll) of it is open now' })),
  position: Type.Optional(Type.Integer({ description: 'Replicas: the `after` of its last feed request' })),
  lagRevisions: Type.Optional(Type.Integer({ description: "Replicas: this node's head minus its position" })),
  lagSeconds: Type.Optional(
    Type.Number({ description: 'Replicas: since this node first answered a head beyond its position' }),
  ),
  lastRenewalSeconds: Type.Optional(Type.Number({ description: 'Edges: since it last renewed a block' })),
  blocks: Type.Optional(Type.Array(SeatBlockView, { description: 'Edges: the seat blocks it holds now' })),
});

/** `replication` in `GET /v1/cluster`: who follows this node (docs/replication.md "Followers"). */
export const FollowersView = Type.Object({
  head: Type.Integer({ description: 'The newest head revision this node answered a feed request with' }),
  followers: Type.Array(FollowerView),
});

/**
 * The registry's followers, with each edge's seat blocks from the store. The blocks are cluster-wide (an
 * edge that renews through another node, or only before this node's restart, shows by its blocks); the
 * rest is what this node saw itself.
 */
export async function followersView(registry: FollowerRegistry, store: LeaseStore, now: number) {
  // Blocks are the store's: a store that cannot answer leaves them out rather than failing the view.
  const blocks = await store.listSeatBlocks(now).catch((): SeatBlock[] => []);
  const bySite = new Map<string, SeatBlock[]>();
  for (const b of blocks) bySite.set(b.site, [...(bySite.get(b.site) ?? []), b]);
  const blockViews = (site: string) => (bySite.get(site) ?? []).map((b) => seatBlockView(b, now));
  // With a replica gone quiet nobody asks the feed, and the registry's head would stand still: read the
  // store's (one small page; on a replica node or below the history it fails, and the last one stays).
  if (registry.list().some((f) => f.role === 'replica')) {
    const page = await store
      .changesSince({ after: Math.max(0, registry.head), limit: 1, waitMs: 0 })
      .catch(() => undefined);
    if (page) registry.observeHead(page.head);
  }
  const seen = registry.list();
  const followers: Static<typeof FollowerView>[] = seen.map((f) =>
    f.role === 'edge' ? { ...f, blocks: blockViews(f.id) } : f,
  );
  for (const site of bySite.keys()) {
    if (!seen.some((f) => f.role === 'edge' && f.id === site)) {
      followers.push({ id: site, role: 'edge', identified: true, blocks: blockViews(site) });
    }
  }
  return { head: registry.head, followers };
}
