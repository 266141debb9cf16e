import * as sdk from '@leasehold/client';
import { SERVER_ERROR_CODES } from '@leasehold/client';
import * as testing from '@leasehold/client/testing';
import { ERROR_CODES } from '@leasehold/domain';
import { describe, expect, it } from 'vitest';

describe('public API', () => {
  it('exports exactly the documented runtime names', () => {
    expect(Object.keys(sdk).sort()).toEqual([
      'CLIENT_ERROR_CODES',
      'COUNTER_NAMES',
      'DIAGNOSTICS_CHANNELS',
      'LEASE_TOKEN_TYP',
      'LeaseholdClientError',
      'SERVER_ERROR_CODES',
      'createClient',
      'fetchJwks',
      'fileStateStore',
      'isLeaseholdClientError',
      'nodeFetch',
      'systemClock',
      'verifyLeaseToken',
    ]);
  });

  it('exports exactly the test harness from @leasehold/client/testing', () => {
    expect(Object.keys(testing).sort()).toEqual(['FakeCluster', 'FaultProxy', 'ManualClock']);
  });

  it('names its diagnostics channels under leasehold:client:', () => {
    expect(
      Object.values(sdk.DIAGNOSTICS_CHANNELS).every((name) => name.startsWith('leasehold:client:')),
    ).toBe(true);
  });

  it("knows every code of the server's error registry, and only those", () => {
    // The SDK may not import the server packages; this keeps its copy of the registry in step.
    expect([...SERVER_ERROR_CODES].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('keeps server and SDK codes apart', () => {
    const overlap = Object.keys(sdk.CLIENT_ERROR_CODES).filter((c) =>
      (ERROR_CODES as readonly string[]).includes(c),
    );
    expect(overlap).toEqual([]);
  });

  it('narrows errors by code', () => {
    const err = new sdk.LeaseholdClientError('TIMEOUT', 'slow');
    expect(err.retryable).toBe(true);
    expect(sdk.isLeaseholdClientError(err, 'TIMEOUT')).toBe(true);
    expect(sdk.isLeaseholdClientError(err, 'NETWORK_ERROR')).toBe(false);
    expect(sdk.isLeaseholdClientError(new Error('x'))).toBe(false);
    expect(new sdk.LeaseholdClientError('SEATS_EXHAUSTED', 'full').retryable).toBe(false);
  });
});
