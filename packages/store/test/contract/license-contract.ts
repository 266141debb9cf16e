import type { LeaseStore } from '@leasehold/store';
import { describe, expect, it } from 'vitest';
import { contractCheckout, expectCode } from './contract-support.js';
import { license, T0 } from './fixtures.js';

/** Licenses: install, idempotent reinstall, upgrade, replay refusal, revocation. Part of the contract suite. */
export function describeLicenseContract(getStore: () => LeaseStore): void {
  const checkout = contractCheckout(getStore);

  describe('licenses', () => {
    it('installs, keeps the same file idempotently, upgrades and refuses replays', async () => {
      const v1 = await license();
      expect((await getStore().installLicense(v1, T0)).outcome).toBe('installed');
      expect((await getStore().installLicense(v1, T0)).outcome).toBe('unchanged');
      const v2 = await license({ version: 2, seats: { solver: 5 } });
      const up = await getStore().installLicense(v2, T0);
      expect(up.outcome).toBe('upgraded');
      expect(up.license.entitlements).toEqual([{ feature: 'solver', seats: 5 }]);
      await expectCode(getStore().installLicense(v1, T0), 'LICENSE_REPLAYED');
      await expectCode(getStore().installLicense(await license({ version: 2 }), T0), 'LICENSE_REPLAYED');
      expect((await getStore().getLicense('lic-1'))?.version).toBe(2);
      expect((await getStore().listLicenses()).map((l) => l.id)).toEqual(['lic-1']);
    });

    it('revocation stops checkouts and renewals at once; a higher version reinstates', async () => {
      await getStore().installLicense(await license(), T0);
      const { lease } = await checkout('r1');
      const revoked = await getStore().revokeLicense('lic-1', T0 + 1);
      expect(revoked.revokedAt).toBe(T0 + 1);
      expect((await getStore().revokeLicense('lic-1', T0 + 2)).revokedAt).toBe(T0 + 1);
      await expectCode(checkout('r2', 'c2', T0 + 2), 'LICENSE_REVOKED');
      await expectCode(getStore().renewLease({ leaseId: lease.id, now: T0 + 2 }), 'LICENSE_REVOKED');
      await getStore().installLicense(await license({ version: 2 }), T0 + 3);
      expect((await checkout('r3', 'c3', T0 + 3)).lease.licenseId).toBe('lic-1');
      await expectCode(getStore().revokeLicense('nope', T0), 'LICENSE_NOT_FOUND');
    });
  });
}
