import type { LeaseholdClientError } from '../errors/leasehold-client-error.js';
import { badResponse } from '../transport/read-answer.js';
import type { LeaseChain, LeaseGrant, LeaseInfo, LeaseState } from './lease-info.js';

const STATES: ReadonlySet<string> = new Set<LeaseState>(['active', 'expired', 'released', 'revoked']);

/**
 * Reads a node's lease view (`LeaseView` in the server's schemas). A body of the wrong shape is
 * `BAD_RESPONSE`, thrown inside the attempt so that the call fails over like any broken answer.
 */
export function parseLeaseInfo(json: unknown, server: string): LeaseInfo {
  const fail = (field: string): LeaseholdClientError =>
    badResponse(server, undefined, `a lease whose "${field}" is missing or malformed`);
  if (typeof json !== 'object' || json === null) throw fail('(body)');
  const body = json as Record<string, unknown>;

  const str = (field: string): string => {
    const value = body[field];
    if (typeof value !== 'string' || value === '') throw fail(field);
    return value;
  };
  const int = (field: string): number => {
    const value = body[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw fail(field);
    return value;
  };
  const date = (field: string): Date => {
    const value = new Date(str(field));
    if (Number.isNaN(value.getTime())) throw fail(field);
    return value;
  };

  const state = str('state');
  if (!STATES.has(state)) throw fail('state');
  return Object.freeze({
    id: str('id'),
    license: str('license'),
    feature: str('feature'),
    state: state as LeaseState,
    slot: int('slot'),
    fence: int('fence'),
    requestId: str('requestId'),
    renewedAt: date('renewedAt'),
    expiresAt: date('expiresAt'),
    renewAfter: date('renewAfter'),
    reservedUntil: date('reservedUntil'),
    graceSeconds: int('graceSeconds'),
    endedAt: body.endedAt === undefined ? undefined : date('endedAt'),
  });
}

/** Reads a lease view that carries a token (the answer to a checkout or a renewal). */
export function parseLeaseGrant(json: unknown, server: string): LeaseGrant {
  const info = parseLeaseInfo(json, server);
  const { token, renewInSeconds, chain } = json as Record<string, unknown>;
  if (typeof token !== 'string' || token === '') {
    throw badResponse(server, undefined, 'a lease whose "token" is missing or malformed');
  }
  const advice =
    typeof renewInSeconds === 'number' && Number.isFinite(renewInSeconds) && renewInSeconds >= 0
      ? renewInSeconds
      : undefined;
  return Object.freeze({ ...info, token, renewInSeconds: advice, chain: parseChain(chain) });
}

/** The chain is checked only when the client holds vendor keys; a malformed one counts as missing. */
function parseChain(json: unknown): LeaseChain | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { license, keyCertificate } = json as Record<string, unknown>;
  return Object.freeze({
    license: typeof license === 'string' && license !== '' ? license : undefined,
    keyCertificate: typeof keyCertificate === 'string' && keyCertificate !== '' ? keyCertificate : undefined,
  });
}
