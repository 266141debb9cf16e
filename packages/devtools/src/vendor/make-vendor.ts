import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateKeyPairPems,
  importPrivateKey,
  importPublicKey,
  type LicenseClaims,
  type PrivateKeyInfo,
  type PublicKeyInfo,
} from '@leasehold/domain';
import { issueTestLicense } from './test-license.js';

/** A software vendor of the tests: a fresh Ed25519 signing key pair and a license press. */
export interface Vendor {
  readonly key: PrivateKeyInfo;
  readonly publicKey: PublicKeyInfo;
  readonly publicPem: string;
  readonly privatePem: string;
  /** A license file with the test defaults (`issueTestLicense`) at the vendor's `now`. */
  issue(overrides?: Partial<LicenseClaims>): Promise<string>;
  /** Writes the public key to `<dir>/vendor.pub.pem` (what `--vendor-key` takes) and returns that path. */
  writePublicKey(dir: string): string;
}

/**
 * A new vendor whose licenses are issued relative to `now` (default: the wall clock at the call), so a
 * test on a manual clock passes its own time.
 *
 * @example
 * ```ts
 * const vendor = await makeVendor();
 * const keyFile = vendor.writePublicKey(dir);
 * const license = await vendor.issue({ features: { cad: { seats: 5 } } });
 * ```
 */
export async function makeVendor(now: number = Date.now()): Promise<Vendor> {
  const pems = await generateKeyPairPems('sig');
  const key = await importPrivateKey(pems.privatePem);
  return {
    key,
    publicKey: await importPublicKey(pems.publicPem),
    publicPem: pems.publicPem,
    privatePem: pems.privatePem,
    issue: (overrides = {}) => issueTestLicense(key, overrides, now),
    writePublicKey(dir) {
      const file = join(dir, 'vendor.pub.pem');
      writeFileSync(file, pems.publicPem);
      return file;
    },
  };
}
