import { randomBytes } from 'node:crypto';
import { makeVendor } from '@leasehold/devtools';
import {
  encryptLicense,
  generateKeyPairPems,
  importPrivateKey,
  importPublicKey,
  type License,
  type LicenseVerificationKeys,
  verifyLicense,
} from '@leasehold/domain';
import type { StoredSigningKey } from '@leasehold/store';

/** A byte string that must not appear anywhere in a store's files or values, and what it is. */
export interface Needle {
  readonly what: string;
  readonly bytes: Buffer;
}

export interface SecretFixture {
  /** A plain JWS license and a JWE-wrapped one, verified as a node would. */
  readonly licenses: readonly License[];
  /** The vendor and decryption keys those licenses verify under (a store's trust root). */
  readonly keys: LicenseVerificationKeys;
  readonly signingKey: StoredSigningKey;
  /** A cluster identity key (issue 11), sealed like the signing key. */
  readonly identityKey: StoredSigningKey;
  readonly needles: readonly Needle[];
}

/**
 * Licenses and a signing key with recognisable secrets, and every form in which they could leak into a
 * store: the license files, their payload segments, the decoded customer string, the PEM body and the
 * raw Ed25519 private key bytes (binary, base64 and base64url).
 */
export async function secretFixture(now: number): Promise<SecretFixture> {
  const vendor = await makeVendor(now);
  const customerEnc = await generateKeyPairPems('enc');
  const tag = randomBytes(6).toString('hex');
  const claims = (lid: string, customer: string) => ({ lid, customer, exp: Math.floor(now / 1000) + 86_400 });
  const plainJws = await vendor.issue(claims('lic-plain', `Plain Customer ${tag} GmbH`));
  const innerJws = await vendor.issue(claims('lic-jwe', `Sealed Customer ${tag} Ltd`));
  const jwe = await encryptLicense(innerJws, await importPublicKey(customerEnc.publicPem, 'enc'));
  const keys = {
    vendorKeys: new Map([[vendor.key.kid, vendor.publicKey]]),
    decryptionKeys: new Map([
      [
        (await importPrivateKey(customerEnc.privatePem, 'enc')).kid,
        await importPrivateKey(customerEnc.privatePem, 'enc'),
      ],
    ]),
  };
  const licenses = [await verifyLicense(plainJws, keys, now), await verifyLicense(jwe, keys, now)];

  const cluster = await generateKeyPairPems('sig');
  const signingKey: StoredSigningKey = { kid: cluster.kid, privatePem: cluster.privatePem, createdAt: now };
  const text = (what: string, value: string): Needle => ({ what, bytes: Buffer.from(value, 'utf8') });
  const identity = await generateKeyPairPems('sig');
  const identityKey: StoredSigningKey = {
    kid: identity.kid,
    privatePem: identity.privatePem,
    createdAt: now,
  };
  const keyNeedles = (what: string, privatePem: string): Needle[] => {
    const pemBody = privatePem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    const der = Buffer.from(pemBody, 'base64');
    const seed = der.subarray(der.length - 32); // Ed25519 PKCS#8 ends with the 32-byte private key
    return [
      text(`${what} PEM body (first 40 chars)`, pemBody.slice(0, 40)),
      text(`${what} PEM body (last 40 chars)`, pemBody.slice(-40)),
      { what: `${what}: raw private key bytes`, bytes: seed },
      text(`${what}: private key base64`, seed.toString('base64')),
      text(`${what}: private key base64url (JWK d)`, seed.toString('base64url')),
    ];
  };

  const needles: Needle[] = [
    text('plain license file', plainJws),
    text('plain license payload segment', plainJws.split('.')[1] ?? ''),
    text('JWE license file', jwe),
    text('JWE ciphertext segment', jwe.split('.')[3] ?? ''),
    text('inner signed license of the JWE', innerJws),
    text('inner payload segment', innerJws.split('.')[1] ?? ''),
    text('plain customer', `Plain Customer ${tag} GmbH`),
    text('JWE customer', `Sealed Customer ${tag} Ltd`),
    ...keyNeedles('signing key', cluster.privatePem),
    ...keyNeedles('cluster identity key', identity.privatePem),
  ];
  return { licenses, keys, signingKey, identityKey, needles };
}

/** The needles found in `haystack` (empty when none leaked). */
export function leaks(haystack: Buffer, needles: readonly Needle[]): string[] {
  return needles.filter((n) => n.bytes.length > 0 && haystack.includes(n.bytes)).map((n) => n.what);
}
