import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ApiOptions {
  readonly server?: string;
  readonly token?: string;
  readonly dataDir?: string;
}

/** An error answer from a node, with its problem+json code. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

/** Which node the CLI talks to and with which token (for calls that stream, like `audit export`). */
export function apiTarget(
  opts: ApiOptions,
  env: NodeJS.ProcessEnv = process.env,
): { server: string; token: string | undefined } {
  const server = (opts.server ?? env.LEASEHOLD_SERVER ?? 'http://127.0.0.1:7300').replace(/\/+$/, '');
  const tokenFile = join(opts.dataDir ?? env.LEASEHOLD_DATA_DIR ?? './data', 'admin.token');
  const token =
    opts.token ??
    env.LEASEHOLD_TOKEN ??
    (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
  return { server, token };
}

/**
 * The CLI's view of a node. Server: --server, else LEASEHOLD_SERVER, else the local default. Token:
 * --token, else LEASEHOLD_TOKEN, else `<data-dir>/admin.token` when this machine runs the node.
 */
export function apiClient(opts: ApiOptions, env: NodeJS.ProcessEnv = process.env) {
  const { server, token } = apiTarget(opts, env);

  return async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${server}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new ApiError(
        0,
        'UNREACHABLE',
        `cannot reach ${server}: ${(err as Error).cause ?? (err as Error).message}`,
      );
    }
    const text = await response.text();
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (!response.ok) {
      throw new ApiError(response.status, String(json.code ?? response.status), String(json.detail ?? text));
    }
    return json as T;
  };
}
