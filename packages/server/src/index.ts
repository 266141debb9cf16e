/**
 * `@leasehold/server`: a Leasehold node to run inside your own process — what `leasehold serve` runs.
 *
 * This is the public API, and all of it: what a user embedding the server needs and what we keep stable.
 * - `loadConfig` (with `ConfigError`, `NodeConfig`, `NodeConfigSchema`): the node's settings, read the way
 *   `leasehold serve` reads them (defaults < file < environment < flags), checked and frozen; or your own
 *   object checked against the same schema.
 * - `startNode` (with `RunningNode`, `NodeRuntime`, `AdminTokenResult`): start a node on that config —
 *   store, HTTP API, dashboard, metrics and background work — and close it again.
 * - `VERSION`.
 *
 * Everything else (the Fastify app builder and its collaborators, the sweeper and audit keeper, metrics
 * internals, token helpers, data-directory file names, the dev cluster) is composition detail that changes
 * with the implementation. Tests, benchmarks and tooling reach it through `@leasehold/server/internal`
 * (`src/internal.ts`), which carries no compatibility promise (issue 10).
 *
 * @example
 * ```ts
 * import { loadConfig, startNode } from '@leasehold/server';
 *
 * const node = await startNode(loadConfig({ env: process.env, flags: { port: 7300 } }));
 * const { created } = await node.ready; // the admin token, when this start made it: print it once
 * // …
 * await node.close();
 * ```
 *
 * @packageDocumentation
 */
export { type NodeConfig, NodeConfigSchema } from './config/config-schema.js';
export { ConfigError, loadConfig } from './config/load-config.js';
export type { AdminTokenResult } from './node/admin-token.js';
export { type NodeRuntime, type RunningNode, startNode } from './node/leasehold-node.js';
export { VERSION } from './version.js';
