import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVendor } from '@leasehold/devtools';
import { loadConfig, type RunningNode, startNode } from '@leasehold/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from './helpers/test-app.js';

describe('200 concurrent HTTP checkouts over real sockets', () => {
  let node: RunningNode;
  let dir: string;
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'leasehold-conc-'));
    const vendor = await makeVendor(Date.now());
    vendor.writePublicKey(dir);
    const config = loadConfig({
      env: {},
      flags: {
        port: 0,
        dataDir: join(dir, 'data'),
        vendorKeys: [join(dir, 'vendor.pub.pem')],
        adminToken: ADMIN_TOKEN,
      },
    });
    node = await startNode(config, { logger: false });
    const license = await vendor.issue({ features: { solver: { seats: 10 } } });
    const res = await fetch(`${node.url}/v1/licenses`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ license }),
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await node?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('grants exactly 10 of 200 on a 10-seat feature, then frees them on check-in', async () => {
    const checkout = (i: number) =>
      fetch(`${node.url}/v1/leases`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ feature: 'solver', client: { id: `c${i}` }, requestId: `request-${i}` }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { id: string; code?: string } }));

    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => checkout(i)));
    const granted = results.filter((r) => r.status === 201);
    const denied = results.filter((r) => r.status === 409 && r.body.code === 'SEATS_EXHAUSTED');
    expect(granted.length).toBe(10);
    expect(denied.length).toBe(190);

    await Promise.all(
      granted.map((g) => fetch(`${node.url}/v1/leases/${g.body.id}`, { method: 'DELETE', headers: auth })),
    );
    const again = await Promise.all(Array.from({ length: 200 }, (_, i) => checkout(1000 + i)));
    expect(again.filter((r) => r.status === 201).length).toBe(10);
  });
});
