import { randomUUID } from 'node:crypto';
import type { InstalledLicense } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { afterEach, describe, expect, it } from 'vitest';
import { client, DAY, type LICENSE_KEYS, license, T0 } from './fixtures.js';
import { expectCode } from './lease-store-contract.js';

/** What an attacker with write access to the data changes in a stored license record. */
export type TamperEdit = 'seats' | 'expiry' | 'feature' | 'policy';

/** The fields the store names for each edit once it compares the record with the signature. */
const REPORTED: Record<TamperEdit, string[]> = {
  seats: ['seats:solver'],
  expiry: ['expiresAt'],
  feature: ['seats:extra'],
  policy: ['lease.ttlMs'],
};

/**
 * One backend's data, opened as often as a test needs (a node restarting), and edited behind the store's
 * back as an attacker with the data file or etcd write access would: without the key-encryption key, so
 * only the plaintext columns or JSON fields change.
 */
export interface TamperHarness {
  /** A store over this harness's data; `keys` replaces the trusted vendor keys. */
  open(keys?: typeof LICENSE_KEYS): Promise<LeaseStore>;
  /** Changes license `licenseId` as `edit` says and moves the license revision (so open stores see it). */
  edit(licenseId: string, edit: TamperEdit): Promise<void>;
}

/**
 * Issue 11: a 2-seat license edited to 1000 seats in the data file let three clients check out. Both
 * backends must serve only what the vendor signed: an edited record grants and renews nothing
 * (LICENSE_TAMPERED), is audited once, and no seat beyond the signed count is ever granted.
 */
export function describeTamperContract(backend: string, harness: () => Promise<TamperHarness>): void {
  describe(`stored license integrity: ${backend}`, () => {
    const opened: LeaseStore[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });
    const open = async (h: TamperHarness, keys?: typeof LICENSE_KEYS) => {
      const store = await h.open(keys);
      opened.push(store);
      return store;
    };
    const checkout = (store: LeaseStore, requestId: string, feature = 'solver', now = T0) =>
      store.acquireSeat({ leaseId: randomUUID(), requestId, feature, client: client(requestId), now });

    /** A store holding a 2-seat license with both seats taken; returns the two leases. */
    async function full(h: TamperHarness) {
      const store = await open(h);
      await store.installLicense(await license({ seats: { solver: 2 } }), T0);
      const a = (await checkout(store, 'held-a')).lease;
      const b = (await checkout(store, 'held-b')).lease;
      await expectCode(checkout(store, 'third'), 'SEATS_EXHAUSTED');
      return { store, a, b };
    }

    async function tamperedEvents(store: LeaseStore) {
      return (await store.pendingAudit(1000)).filter((e) => e.action === 'license.tampered');
    }

    for (const edit of ['seats', 'expiry', 'feature', 'policy'] as const) {
      it(`${edit} edited behind a stopped node: refused at the next start, audited once, no extra seat`, async () => {
        const h = await harness();
        const first = await full(h);
        await first.store.close();
        await h.edit('lic-1', edit);

        const store = await open(h); // the restart
        for (let i = 0; i < 5; i++) await expectCode(checkout(store, `extra-${i}`), 'LICENSE_TAMPERED');
        await expectCode(checkout(store, 'extra-feature', 'extra'), 'FEATURE_NOT_LICENSED');
        await expectCode(store.renewLease({ leaseId: first.a.id, now: T0 + 1 }), 'LICENSE_TAMPERED');

        const served = (await store.getLicense('lic-1')) as InstalledLicense;
        expect(served.refusal).toMatchObject({ code: 'LICENSE_TAMPERED', fields: REPORTED[edit] });
        // What it shows is what the vendor signed, not the edit.
        expect(served.entitlements).toEqual([{ feature: 'solver', seats: 2 }]);
        expect(served.expiresAt).toBe(T0 + 365 * DAY);
        expect(served.lease.ttlMs).toBe(60_000);
        expect((await store.seatUsage(T0 + 2)).map((u) => [u.feature, u.seats, u.inUse])).toEqual([
          ['solver', 2, 2],
        ]);
        const live = await store.listLeases({ now: T0 + 2 });
        expect(live.map((l) => l.requestId).sort()).toEqual(['held-a', 'held-b']);

        const events = await tamperedEvents(store);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          action: 'license.tampered',
          subject: 'license:lic-1',
          details: { code: 'LICENSE_TAMPERED', fields: REPORTED[edit].join(',') },
        });
      });
    }

    it('an edit made while a node runs is refused at the next load of the licenses', async () => {
      const h = await harness();
      const { store } = await full(h);
      await h.edit('lic-1', 'seats');
      await expectCode(checkout(store, 'live-edit'), 'LICENSE_TAMPERED');
      expect(await tamperedEvents(store)).toHaveLength(1);
      expect((await store.listLeases({ now: T0 + 2 })).length).toBe(2);
    });

    it('installing the signed file again repairs the record, with the signed seat count', async () => {
      const h = await harness();
      const { store } = await full(h);
      const file = (await store.getLicense('lic-1')) as InstalledLicense;
      await h.edit('lic-1', 'seats');
      await expectCode(checkout(store, 'before-repair'), 'LICENSE_TAMPERED');
      const repaired = await store.installLicense(await license({ seats: { solver: 2 } }), T0 + 10);
      expect(repaired.outcome).toBe('installed');
      expect(repaired.license.refusal).toBeUndefined();
      expect(repaired.license.raw).not.toBe(file.raw);
      await expectCode(checkout(store, 'after-repair'), 'SEATS_EXHAUSTED');
    });

    it('a license whose vendor key is no longer trusted is refused with LICENSE_KID_UNKNOWN', async () => {
      const h = await harness();
      const first = await full(h);
      await first.store.close();
      const store = await open(h, { vendorKeys: new Map() });
      await expectCode(checkout(store, 'untrusted'), 'LICENSE_KID_UNKNOWN');
      expect((await store.getLicense('lic-1'))?.refusal?.code).toBe('LICENSE_KID_UNKNOWN');
    });

    it('refuses to install a record whose fields its own signed file does not say', async () => {
      const h = await harness();
      const store = await open(h);
      const signed = await license({ seats: { solver: 2 } });
      const forged = { ...signed, entitlements: [{ feature: 'solver', seats: 1000 }] };
      await expectCode(store.installLicense(forged, T0), 'LICENSE_TAMPERED');
      expect(await store.getLicense('lic-1')).toBeUndefined();
      const [header, payload, signature = ''] = signed.raw.split('.');
      const badSignature = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
      await expectCode(
        store.installLicense({ ...signed, raw: badSignature }, T0),
        'LICENSE_SIGNATURE_INVALID',
      );
      expect(await store.listLicenses()).toEqual([]);
    });
  });
}
