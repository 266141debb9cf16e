import { NodeProcess, type NodeProcessOptions } from './node-process.js';

/**
 * Starts `leasehold serve` (plain or TLS: pass a `fetch` that trusts the node's CA) and resolves once its
 * readiness probe answers; rejects with `NODE_START_FAILED` and the node's output otherwise.
 *
 * @example
 * ```ts
 * const node = await spawnNode({ args: ['--port', '0', '--data-dir', dir], readiness: 'readyz' });
 * await fetch(`${node.url}/v1/cluster`);
 * await node.kill('SIGTERM');
 * ```
 */
export async function spawnNode(options: NodeProcessOptions): Promise<NodeProcess> {
  const node = new NodeProcess(options);
  await node.start();
  return node;
}
