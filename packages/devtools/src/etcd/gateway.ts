import { DevtoolsError } from '../errors.js';

/** Options of one call to a member's HTTP endpoints. */
export interface GatewayCallOptions {
  /** Deadline of the call; a paused member never answers. Default 1000 ms. */
  readonly timeoutMs?: number;
  /** The fetch to use; defaults to the global one. */
  readonly fetch?: typeof fetch;
}

/**
 * POSTs `body` as JSON to etcd's gRPC-JSON gateway (`clientUrl + path`, e.g. `/v3/kv/put`) and returns the
 * parsed answer. Keys and values are base64 in both directions and 64-bit integers are decimal strings,
 * as the gateway renders protobuf. Throws {@link DevtoolsError} `ETCD_GATEWAY` when the member does not
 * answer in time or answers an error.
 *
 * @example
 * ```ts
 * const status = await callGateway<{ leader: string }>(member.clientUrl, '/v3/maintenance/status', {});
 * ```
 */
export async function callGateway<T>(
  clientUrl: string,
  path: string,
  body: unknown,
  options: GatewayCallOptions = {},
): Promise<T> {
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  let text: string;
  try {
    response = await doFetch(clientUrl + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 1000),
    });
    text = await response.text();
  } catch (cause) {
    throw new DevtoolsError('ETCD_GATEWAY', `POST ${clientUrl}${path} failed: ${describe(cause)}`, { cause });
  }
  if (!response.ok) {
    throw new DevtoolsError('ETCD_GATEWAY', `POST ${clientUrl}${path} answered ${response.status}: ${text}`);
  }
  return JSON.parse(text) as T;
}

/** A member's answer to `GET /health`. */
export interface EtcdHealth {
  /** `true` when the member has a leader, no alarm, and answers a read through Raft. */
  readonly healthy: boolean;
  /** etcd's reason when unhealthy, e.g. `RAFT NO LEADER`. */
  readonly reason: string;
}

/**
 * Asks a member's `GET /health` (503 with a reason when unhealthy). Throws {@link DevtoolsError}
 * `ETCD_GATEWAY` when the member does not answer at all.
 *
 * @example
 * ```ts
 * const { healthy, reason } = await readHealth('http://127.0.0.1:2379');
 * ```
 */
export async function readHealth(clientUrl: string, options: GatewayCallOptions = {}): Promise<EtcdHealth> {
  const doFetch = options.fetch ?? fetch;
  let text: string;
  try {
    const response = await doFetch(`${clientUrl}/health`, {
      signal: AbortSignal.timeout(options.timeoutMs ?? 1000),
    });
    text = await response.text();
  } catch (cause) {
    throw new DevtoolsError('ETCD_GATEWAY', `GET ${clientUrl}/health failed: ${describe(cause)}`, { cause });
  }
  try {
    const parsed = JSON.parse(text) as { health?: unknown; reason?: unknown };
    return {
      healthy: parsed.health === 'true',
      reason: typeof parsed.reason === 'string' ? parsed.reason : '',
    };
  } catch {
    return { healthy: false, reason: text.slice(0, 200) };
  }
}

/** The parts of a member's `Maintenance.Status` that the harness uses. */
export interface EtcdStatus {
  /** This member's Raft id, as a decimal string. */
  readonly memberId: string;
  /** The Raft id of the leader this member follows, `'0'` when it knows none. */
  readonly leaderId: string;
  readonly raftTerm: string;
  readonly revision: string;
  /** The server version, e.g. `3.5.16`. */
  readonly version: string;
}

/**
 * Asks one member for its status (`POST /v3/maintenance/status`), answered locally without Raft.
 *
 * @example
 * ```ts
 * const { memberId, leaderId } = await readStatus(member.clientUrl, { timeoutMs: 300 });
 * const isLeader = memberId === leaderId;
 * ```
 */
export async function readStatus(clientUrl: string, options: GatewayCallOptions = {}): Promise<EtcdStatus> {
  const raw = await callGateway<{
    header?: { member_id?: string; revision?: string };
    leader?: string;
    raftTerm?: string;
    version?: string;
  }>(clientUrl, '/v3/maintenance/status', {}, options);
  return {
    memberId: raw.header?.member_id ?? '0',
    leaderId: raw.leader ?? '0',
    raftTerm: raw.raftTerm ?? '0',
    revision: raw.header?.revision ?? '0',
    version: raw.version ?? '',
  };
}

/** One entry of the cluster's membership, as `POST /v3/cluster/member/list` returns it. */
export interface EtcdMembership {
  readonly id: string;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
}

/**
 * Lists the cluster's members as one member sees them (a linearizable read through Raft).
 *
 * @example
 * ```ts
 * const ids = (await listMembers(cluster.clientUrls()[0]!)).map((m) => m.id);
 * ```
 */
export async function listMembers(
  clientUrl: string,
  options: GatewayCallOptions = {},
): Promise<EtcdMembership[]> {
  const raw = await callGateway<{
    members?: { ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[] }[];
  }>(clientUrl, '/v3/cluster/member/list', {}, options);
  return (raw.members ?? []).map((m) => ({
    id: m.ID ?? '0',
    name: m.name ?? '',
    peerUrls: m.peerURLs ?? [],
    clientUrls: m.clientURLs ?? [],
  }));
}

/**
 * Puts `key` = `value` (UTF-8 strings) through the JSON gateway and returns the revision of the write.
 *
 * @example
 * ```ts
 * const revision = await gatewayPut(cluster.clientUrls()[0]!, 'greeting', 'hello', { timeoutMs: 500 });
 * ```
 */
export async function gatewayPut(
  clientUrl: string,
  key: string,
  value: string,
  options: GatewayCallOptions = {},
): Promise<string> {
  const raw = await callGateway<{ header?: { revision?: string } }>(
    clientUrl,
    '/v3/kv/put',
    { key: base64(key), value: base64(value) },
    options,
  );
  return raw.header?.revision ?? '0';
}

/**
 * Reads `key` through the JSON gateway (linearizable by default) and returns its UTF-8 value, or
 * `undefined` when the key does not exist.
 *
 * @example
 * ```ts
 * const value = await gatewayGet(cluster.clientUrls()[1]!, 'greeting');
 * ```
 */
export async function gatewayGet(
  clientUrl: string,
  key: string,
  options: GatewayCallOptions & { readonly serializable?: boolean } = {},
): Promise<string | undefined> {
  const raw = await callGateway<{ kvs?: { value?: string }[] }>(
    clientUrl,
    '/v3/kv/range',
    { key: base64(key), serializable: options.serializable ?? false },
    options,
  );
  const kv = raw.kvs?.[0];
  // The gateway omits empty fields: a key with an empty value has no `value`.
  return kv === undefined ? undefined : Buffer.from(kv.value ?? '', 'base64').toString('utf8');
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? ` (${cause.cause.message})` : '';
    return `${cause.name}: ${cause.message}${inner}`;
  }
  return String(cause);
}

/**
 * Asks a member's `GET /version`, which any member that serves HTTP answers, with or without a quorum.
 * Returns the server version, e.g. `3.5.16`.
 *
 * @example
 * ```ts
 * const version = await readVersion(member.clientUrl, { timeoutMs: 300 });
 * ```
 */
export async function readVersion(clientUrl: string, options: GatewayCallOptions = {}): Promise<string> {
  const doFetch = options.fetch ?? fetch;
  try {
    const response = await doFetch(`${clientUrl}/version`, {
      signal: AbortSignal.timeout(options.timeoutMs ?? 1000),
    });
    const parsed = (await response.json()) as { etcdserver?: unknown };
    return typeof parsed.etcdserver === 'string' ? parsed.etcdserver : '';
  } catch (cause) {
    throw new DevtoolsError('ETCD_GATEWAY', `GET ${clientUrl}/version failed: ${describe(cause)}`, { cause });
  }
}
