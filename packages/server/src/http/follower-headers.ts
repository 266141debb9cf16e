import Type from 'typebox';
import { FOLLOWER_HEADER, FOLLOWER_ID_PATTERN } from '../replication/follower-registry.js';

/**
 * The optional header replicas (feed requests) and edges (their `/v1/edge/*` calls) name themselves with,
 * for the primary's picture of its followers (docs/replication.md "Followers"). Optional: older replicas
 * and edges send none and show by their address.
 */
export const FollowerHeaders = Type.Object({
  [FOLLOWER_HEADER]: Type.Optional(
    Type.String({ pattern: FOLLOWER_ID_PATTERN, description: "The follower's node id" }),
  ),
});
