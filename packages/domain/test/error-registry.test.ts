import { readFileSync } from 'node:fs';
import { ERROR_REGISTRY } from '@leasehold/domain';
import { describe, expect, it } from 'vitest';

// Keeps docs/errors.md and the registry in step, as fastify's test/internals/errors.test.js does.
const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (yes|no) \|/gm)].map((m) => ({
  code: m[1],
  status: Number(m[2]),
  retryable: m[3] === 'yes',
}));

describe('error registry', () => {
  it('docs/errors.md lists every code with its status and retryability, in registry order', () => {
    const registry = Object.entries(ERROR_REGISTRY).map(([code, spec]) => ({
      code,
      status: spec.status,
      retryable: spec.retryable,
    }));
    expect(rows).toEqual(registry);
  });

  it('only 5xx codes and 429 are retryable, and every status is an error status', () => {
    for (const [code, spec] of Object.entries(ERROR_REGISTRY)) {
      expect(spec.status, code).toBeGreaterThanOrEqual(400);
      // 429 is transient by definition (RFC 6585 §4): wait for Retry-After, or use another node.
      expect(spec.retryable, code).toBe(spec.status >= 500 || spec.status === 429);
    }
  });
});
