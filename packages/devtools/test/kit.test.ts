import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DevtoolsError,
  issueTestLicense,
  leaseholdBin,
  makeVendor,
  pollUntil,
  spawnNode,
} from '@leasehold/devtools';
import { importPublicKey, verifyLicense } from '@leasehold/domain';
import { afterAll, describe, expect, it } from 'vitest';

/** The kit's own pieces: the vendor fixture, the bounded wait, the bin lookup, the node spawner. */
describe('test-and-bench kit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-kit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makeVendor issues licenses that verify against its public key file, with the test defaults', async () => {
    const now = Date.UTC(2026, 0, 1);
    const vendor = await makeVendor(now);
    const keyFile = vendor.writePublicKey(dir);
    const publicKey = await importPublicKey(readFileSync(keyFile, 'utf8'));
    const keys = { vendorKeys: new Map([[publicKey.kid, publicKey]]) };
    const license = await verifyLicense(await vendor.issue({ lid: 'lic-7' }), keys, now);
    expect(license).toMatchObject({
      id: 'lic-7',
      customer: 'Acme',
      entitlements: [{ feature: 'solver', seats: 3 }],
    });
    expect(license.expiresAt - now).toBeGreaterThan(364 * 86_400_000);
    const same = await verifyLicense(await issueTestLicense(vendor.key, {}, now), keys, now);
    expect(same.id).toBe('lic-1');
  });

  it('pollUntil returns the first value, treats false and undefined as not yet, and names what it waited for', async () => {
    let calls = 0;
    expect(
      await pollUntil(() => (++calls >= 3 ? 'done' : calls === 1 ? false : undefined), {
        what: 'x',
        timeoutMs: 2000,
        intervalMs: 1,
      }),
    ).toBe('done');
    const started = performance.now();
    const err = await pollUntil((_, note) => note('still 0') ?? false, {
      what: 'the counter to move',
      timeoutMs: 100,
    }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(err).toBeInstanceOf(DevtoolsError);
    expect(err).toMatchObject({ code: 'WAIT_TIMEOUT' });
    expect((err as Error).message).toMatch(
      /timed out after 100 ms waiting for the counter to move; last seen: still 0/,
    );
  });

  it('leaseholdBin finds the installed server executable', () => {
    expect(leaseholdBin()).toMatch(/packages\/server\/bin\/leasehold\.js$/);
    expect(existsSync(leaseholdBin())).toBe(true);
  });

  it('spawnNode reads the URL of a port-0 node, waits for /readyz, and reports a node that cannot start', async () => {
    const node = await spawnNode({
      args: ['--port', '0', '--data-dir', join(dir, 'node'), '--log-level', 'warn'],
      readiness: 'readyz',
    });
    try {
      expect(node.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
    } finally {
      await node.kill('SIGTERM');
    }
    expect(node.state).toBe('stopped');
    const err = await spawnNode({ name: 'bad', args: ['--port', 'not-a-port'], startTimeoutMs: 5000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'NODE_START_FAILED' });
    expect((err as Error).message).toMatch(/^bad did not start: bad exited/);
  });
});
