import { blockTtlMs, parseSeatBlocks } from '../edge/seat-block-spec.js';
import type { NodeConfig } from './config-schema.js';

/**
 * The edge settings that make sense only together (docs/replication.md), checked once at load: an edge
 * needs its primary, a token for it and at least one block, and runs on its embedded store.
 */
export function edgeConfigProblems(config: NodeConfig): string[] {
  const problems: string[] = [];
  if (config.edgeOf === undefined) {
    if (config.seatBlocks.length > 0) problems.push('seatBlocks are for an edge node: set edgeOf too');
    return problems;
  }
  if (config.upstreamToken === undefined)
    problems.push('edgeOf needs upstreamToken (a token of the primary)');
  if (config.seatBlocks.length === 0) problems.push('edgeOf needs at least one seatBlocks entry');
  if (config.store !== 'sqlite') problems.push('an edge node runs on the embedded store (store: sqlite)');
  if (config.replicaOf !== undefined)
    problems.push('a node is an edge (edgeOf) or a replica (replicaOf), not both');
  for (const check of [() => parseSeatBlocks(config.seatBlocks), () => blockTtlMs(config.blockTtl)]) {
    try {
      check();
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return problems;
}
