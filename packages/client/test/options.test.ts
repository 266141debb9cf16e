import { createClient } from '@leasehold/client';
import { describe, expect, it } from 'vitest';
import { TEST_VENDOR_KEY } from './support/vendor-key.js';

describe('createClient options', () => {
  const base = {
    servers: ['http://127.0.0.1:7300'],
    token: 'lh_client_abc',
    clientId: 'c1',
    vendorKeys: TEST_VENDOR_KEY,
  };

  it.each([
    [{ ...base, server: 'x' }, /unknown option "server"/],
    [{ ...base, servers: [] }, /servers/],
    [{ ...base, servers: ['ftp://x'] }, /http/],
    [{ ...base, servers: ['not a url'] }, /not a valid URL/],
    [{ ...base, servers: ['http://user:pw@x'] }, /credentials/],
    [{ ...base, servers: ['http://x', 'http://x/'] }, /twice/],
    [{ ...base, token: '' }, /token/],
    [{ ...base, token: 'two words' }, /token/],
    [{ ...base, clientId: '' }, /clientId/],
    [{ ...base, host: 'h'.repeat(257) }, /host/],
    [{ ...base, timeoutMs: 0 }, /timeoutMs/],
    [{ ...base, retry: { rounds: 0 } }, /retry.rounds/],
    [{ ...base, retry: { round: 2 } }, /unknown retry option "round"/],
    [{ ...base, clock: { now: (): number => 0 } }, /clock/],
    [{ ...base, clock: { now: (): number => 0, monotonic: (): number => 0 } }, /setTimer/],
    [{ ...base, circuitBreaker: { failures: 0 } }, /circuitBreaker.failures/],
    [{ ...base, circuitBreaker: { cooldown: 5 } }, /unknown circuitBreaker option "cooldown"/],
    [{ ...base, circuitBreaker: { cooldownMs: 5000, maxCooldownMs: 1000 } }, /maxCooldownMs/],
    [{ ...base, renewal: { retryMaxDelayMs: 0 } }, /renewal.retryMaxDelayMs/],
    [{ ...base, renewal: { graceMs: 1 } }, /unknown renewal option "graceMs"/],
    [{ ...base, discovery: { intervalMs: 10 } }, /discovery.intervalMs/],
    [{ ...base, discovery: true }, /discovery/],
    [{ ...base, maxClockSkewMs: -1 }, /maxClockSkewMs/],
    [{ ...base, logger: 'console' }, /logger/],
    [{ ...base, logger: { warn: 'loud' } }, /logger/],
    [{ ...base, stateStore: { load: () => '' } }, /stateStore/],
  ])('refuses %j', (options, message) => {
    expect(() => createClient(options as Parameters<typeof createClient>[0])).toThrow(message);
    expect(() => createClient(options as Parameters<typeof createClient>[0])).toThrow(TypeError);
  });

  it('normalizes and freezes the server list', () => {
    const client = createClient({
      ...base,
      servers: ['http://127.0.0.1:7300', 'https://lic.example.com/prefix'],
    });
    expect(client.servers).toEqual(['http://127.0.0.1:7300/', 'https://lic.example.com/prefix/']);
    expect(Object.isFrozen(client.servers)).toBe(true);
  });

  it('refuses malformed checkout arguments before sending anything', async () => {
    let sent = 0;
    const client = createClient({
      ...base,
      fetch: async () => {
        sent++;
        return new Response('{}');
      },
    });
    await expect(client.checkout('')).rejects.toThrow(TypeError);
    await expect(client.checkout('cad', { requestId: 'short' })).rejects.toThrow(/requestId/);
    await expect(client.checkout('cad', { requestId: 'has spaces in it' })).rejects.toThrow(TypeError);
    await expect(client.checkout('cad', { requestID: 'abcdefgh-1' } as never)).rejects.toThrow(/"requestID"/);
    await expect(client.renew('')).rejects.toThrow(TypeError);
    expect(sent).toBe(0);
  });
});
