import type { LeaseStore } from '@leasehold/store';
import { describe, expect, it } from 'vitest';
import { expectCode } from './contract-support.js';
import { T0 } from './fixtures.js';

/** Signing keys, the cluster identity key and API tokens. Part of the contract suite. */
export function describeKeysAndTokensContract(getStore: () => LeaseStore): void {
  describe('signing keys and tokens', () => {
    it('keeps the first signing key any node offers', async () => {
      const first = { kid: 'k1', privatePem: 'pem-1', createdAt: T0 };
      expect(await getStore().ensureSigningKey(first)).toEqual([first]);
      expect(
        await getStore().ensureSigningKey({ kid: 'k2', privatePem: 'pem-2', createdAt: T0 + 1 }),
      ).toEqual([first]);
      expect(await getStore().listSigningKeys()).toEqual([first]);
    });

    it('keeps the first cluster identity key any node offers, apart from the signing keys', async () => {
      const identity = { kid: 'id-1', privatePem: 'identity-pem-1', createdAt: T0 };
      expect(await getStore().ensureClusterIdentity(identity)).toEqual(identity);
      const other = { kid: 'id-2', privatePem: 'identity-pem-2', createdAt: T0 + 1 };
      expect(await getStore().ensureClusterIdentity(other)).toEqual(identity);
      expect(await getStore().listSigningKeys()).toEqual([]);
    });

    it('stores, finds, lists, revokes and replaces tokens by hash', async () => {
      const token = {
        id: 'tok-1',
        hash: 'h1',
        scope: 'client' as const,
        licenseId: 'lic-1',
        name: 'ci',
        createdAt: T0,
        revokedAt: undefined,
      };
      await getStore().createToken(token);
      expect(await getStore().findTokenByHash('h1')).toEqual(token);
      expect(await getStore().findTokenByHash('h2')).toBeUndefined();
      expect((await getStore().revokeToken('tok-1', T0 + 1)).revokedAt).toBe(T0 + 1);
      await expectCode(getStore().revokeToken('nope', T0), 'TOKEN_NOT_FOUND');
      const boot = {
        ...token,
        id: 'boot-1',
        hash: 'b1',
        scope: 'admin' as const,
        licenseId: undefined,
        name: 'bootstrap',
      };
      await getStore().replaceNamedToken(boot);
      expect(await getStore().replaceNamedToken({ ...boot, id: 'boot-dup' })).toEqual(boot);
      await getStore().replaceNamedToken({ ...boot, id: 'boot-2', hash: 'b2', createdAt: T0 + 5 });
      expect((await getStore().findTokenByHash('b1'))?.revokedAt).toBe(T0 + 5);
      expect((await getStore().findTokenByHash('b2'))?.revokedAt).toBeUndefined();
      expect((await getStore().listTokens()).map((t) => t.id).sort()).toEqual(['boot-1', 'boot-2', 'tok-1']);
    });
  });
}
