/**
 * `diagnostics_channel` names the SDK publishes on (Node, Deno and Bun; in a browser nothing is published).
 * Subscribe to trace or measure the SDK without wrapping it, as with undici's `undici:request:*` channels.
 *
 * - `request`: one attempt on one node finished — `{ server, method, path, durationMs, status?, error? }`.
 * - `failover`: a call moved on from a failed node and succeeded elsewhere — `{ from, to, error, operation }`.
 * - `lease`: a lease lifecycle event — `{ event, lease, ... }` with `event` one of `checkout`, `renewed`,
 *   `failover`, `degraded`, `lost`, `restored`, `replaced`, `released`.
 * - `circuit`: a node's circuit breaker opened, half-opened or closed — `{ server, state }`.
 *
 * @example
 * ```ts
 * import diagnostics from 'node:diagnostics_channel';
 * diagnostics.subscribe(DIAGNOSTICS_CHANNELS.lease, (message) => metrics.record(message));
 * ```
 */
export const DIAGNOSTICS_CHANNELS = Object.freeze({
  request: 'leasehold:client:request',
  failover: 'leasehold:client:failover',
  lease: 'leasehold:client:lease',
  circuit: 'leasehold:client:circuit',
} as const);

export type DiagnosticsChannelName = keyof typeof DIAGNOSTICS_CHANNELS;

interface Channel {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
}

// Looked up without a static import so that the main entry point also loads in a browser;
// process.getBuiltinModule exists from Node 20.16 (the package needs 20.19), in Deno and in Bun.
const diagnostics = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:diagnostics_channel') as { channel(name: string): Channel } | undefined;

const channels = new Map<DiagnosticsChannelName, Channel | undefined>(
  (Object.keys(DIAGNOSTICS_CHANNELS) as DiagnosticsChannelName[]).map((key) => [
    key,
    diagnostics?.channel(DIAGNOSTICS_CHANNELS[key]),
  ]),
);

/**
 * Publishes on one channel. `message` is a function so that nothing is built while no one listens — the
 * renewal path stays cheap.
 */
export function publish(name: DiagnosticsChannelName, message: () => Record<string, unknown>): void {
  const channel = channels.get(name);
  if (!channel?.hasSubscribers) return;
  try {
    channel.publish(message());
  } catch {
    // A subscriber that throws must not break the call it observes.
  }
}
