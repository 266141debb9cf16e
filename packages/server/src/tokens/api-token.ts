import { createHash, randomBytes } from 'node:crypto';
import type { TokenScope } from '@leasehold/store';

/**
 * API tokens: 256 random bits, base64url, prefixed by scope (`lh_admin_…`, `lh_operator_…`,
 * `lh_client_…`) so a leaked token is recognisable by secret scanners and by people. Only the SHA-256 is
 * stored; lookups go by hash and the found hash is compared in constant time (http/auth.ts), so the
 * secret itself is never compared byte by byte against stored data.
 */
export function generateApiToken(scope: TokenScope, random: (n: number) => Buffer = randomBytes): string {
  return `lh_${scope}_${random(32).toString('base64url')}`;
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
