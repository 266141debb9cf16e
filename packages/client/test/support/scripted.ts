import type { FetchFunction } from '@leasehold/client';

/** A request as a test sees it. */
export interface Call {
  readonly server: string;
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, unknown> | undefined;
  readonly headers: Record<string, string>;
}

/**
 * Wraps a fetch (a FakeCluster's, usually): records every call, and lets a script answer some calls
 * itself — a proxy's HTML error page, Fastify's bare 503 — by returning a Response, or pass them on by
 * returning undefined.
 */
export function scripted(
  inner: FetchFunction,
  script: (call: Call) => Response | undefined | Promise<Response | undefined> = () => undefined,
): { fetch: FetchFunction; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchFunction = async (url, init) => {
    const { origin, pathname } = new URL(url);
    const call: Call = {
      server: origin,
      method: init.method ?? 'GET',
      path: pathname,
      body: typeof init.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined,
      headers: init.headers as Record<string, string>,
    };
    calls.push(call);
    return (await script(call)) ?? inner(url, init);
  };
  return { fetch, calls };
}

/** Lease API calls only: no JWKS download, no node discovery. */
export const leaseCalls = (calls: readonly Call[]): Call[] =>
  calls.filter((c) => c.path.includes('/v1/leases'));
