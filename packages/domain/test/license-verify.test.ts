import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encryptLicense,
  generateKeyPairPems,
  importPrivateKey,
  importPublicKey,
  issueLicense,
  LeaseholdError,
  type LicenseClaims,
  type PrivateKeyInfo,
  type PublicKeyInfo,
  verifyLicense,
} from '@leasehold/domain';
import { base64url, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

const NOW = Date.UTC(2026, 5, 1);
const sec = (ms: number) => Math.floor(ms / 1000);

const claims = (overrides: Partial<LicenseClaims> = {}): LicenseClaims => ({
  lid: 'acme-cad',
  ver: 1,
  iss: 'Vendor Inc.',
  customer: 'Acme',
  product: 'cad',
  features: { solver: { seats: 10 }, viewer: { seats: 50 } },
  iat: sec(NOW) - 3600,
  nbf: sec(NOW) - 3600,
  exp: sec(NOW) + 86_400 * 365,
  lease: { ttl: 60, grace: 300, policy: 'strict' },
  ...overrides,
});

let vendor: PrivateKeyInfo;
let vendorPublic: PublicKeyInfo;
let vendorPems: Awaited<ReturnType<typeof generateKeyPairPems>>;
let other: PrivateKeyInfo;
let keys: { vendorKeys: Map<string, PublicKeyInfo> };

async function rejection(file: string, at = NOW): Promise<string> {
  try {
    await verifyLicense(file, keys, at);
  } catch (err) {
    if (err instanceof LeaseholdError) return err.code;
    throw err;
  }
  return 'ACCEPTED';
}

/** Flips one bit of the decoded bytes of one part of a compact JWS and re-encodes it. */
function flipBit(jws: string, part: 0 | 1 | 2, bit: number): string {
  const parts = jws.split('.');
  const bytes = base64url.decode(parts[part] ?? '');
  const index = Math.floor(bit / 8) % bytes.length;
  bytes[index] = (bytes[index] ?? 0) ^ (1 << (bit % 8));
  parts[part] = base64url.encode(bytes);
  return parts.join('.');
}

beforeAll(async () => {
  vendorPems = await generateKeyPairPems('sig');
  vendor = await importPrivateKey(vendorPems.privatePem);
  vendorPublic = await importPublicKey(vendorPems.publicPem);
  other = await importPrivateKey((await generateKeyPairPems('sig')).privatePem);
  keys = { vendorKeys: new Map([[vendorPublic.kid, vendorPublic]]) };
});

describe('license issue and verify', () => {
  it('round-trips: entitlements, dates, lease policy and signer', async () => {
    const file = await issueLicense(claims(), vendor);
    const license = await verifyLicense(file, keys, NOW);
    expect(license).toMatchObject({
      id: 'acme-cad',
      version: 1,
      customer: 'Acme',
      entitlements: [
        { feature: 'solver', seats: 10 },
        { feature: 'viewer', seats: 50 },
      ],
      lease: { ttlMs: 60_000, graceMs: 300_000, policy: 'strict' },
      signedBy: vendorPublic.kid,
      raw: file,
    });
    expect(vendorPublic.kid).toBe(vendorPems.kid);
    // A JWK works as well as a PEM for the trusted key.
    expect((await importPublicKey(JSON.stringify(vendorPems.publicJwk))).kid).toBe(vendorPems.kid);
  });

  it('is a plain JWS that OpenSSL verifies against the vendor public key', async () => {
    const file = await issueLicense(claims(), vendor);
    const [header, payload, signature] = file.split('.');
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-openssl-'));
    try {
      writeFileSync(join(dir, 'pub.pem'), vendorPems.publicPem);
      writeFileSync(join(dir, 'input'), `${header}.${payload}`);
      writeFileSync(join(dir, 'sig'), base64url.decode(signature ?? ''));
      const verify = (input: string) =>
        execFileSync(
          'openssl',
          ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-in', input, '-sigfile', 'sig'],
          { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
        );
      expect(verify('input')).toContain('Signature Verified Successfully');
      writeFileSync(join(dir, 'tampered'), `${header}.${payload}x`);
      expect(() => verify('tampered')).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a flipped bit anywhere, with a code, and never accepts it', async () => {
    const file = await issueLicense(claims(), vendor);
    const allowed: Record<number, string[]> = {
      0: ['LICENSE_MALFORMED', 'LICENSE_ALG_FORBIDDEN', 'LICENSE_KID_UNKNOWN', 'LICENSE_SIGNATURE_INVALID'],
      1: ['LICENSE_SIGNATURE_INVALID'],
      2: ['LICENSE_SIGNATURE_INVALID', 'LICENSE_MALFORMED'],
    };
    for (const part of [0, 1, 2] as const) {
      const bits = (file.split('.')[part]?.length ?? 0) * 6;
      for (let bit = 0; bit < bits; bit += 7) {
        const code = await rejection(flipBit(file, part, bit));
        expect(allowed[part], `part ${part} bit ${bit}: ${code}`).toContain(code);
      }
    }
    // The signature part is never "just" malformed: flipping any of its bits breaks the signature.
    expect(await rejection(flipBit(file, 2, 3))).toBe('LICENSE_SIGNATURE_INVALID');
    expect(await rejection(flipBit(file, 1, 100))).toBe('LICENSE_SIGNATURE_INVALID');
  });

  it('refuses alg none and HS256 before touching a key', async () => {
    const body = base64url.encode(JSON.stringify(claims()));
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', kid: vendor.kid, typ: 'license+jwt' }))}.${body}.`;
    expect(await rejection(none)).toBe('LICENSE_ALG_FORBIDDEN');
    const secret = new TextEncoder().encode('x'.repeat(32));
    const hs = await new SignJWT({ ...claims() })
      .setProtectedHeader({ alg: 'HS256', kid: vendor.kid, typ: 'license+jwt' })
      .sign(secret);
    expect(await rejection(hs)).toBe('LICENSE_ALG_FORBIDDEN');
  });

  it('tells a wrong key, an unknown kid and an embedded key apart', async () => {
    const payload = { ...claims() };
    const signedByOtherWithVendorKid = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'EdDSA', kid: vendor.kid, typ: 'license+jwt' })
      .sign(other.key);
    expect(await rejection(signedByOtherWithVendorKid)).toBe('LICENSE_SIGNATURE_INVALID');
    expect(await rejection(await issueLicense(claims(), other))).toBe('LICENSE_KID_UNKNOWN');
    const embedded = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'EdDSA', kid: other.kid, typ: 'license+jwt', jwk: other.publicJwk })
      .sign(other.key);
    expect(await rejection(embedded)).toBe('LICENSE_KEY_UNTRUSTED');
  });

  it('enforces the validity window', async () => {
    const file = await issueLicense(claims({ nbf: sec(NOW) + 3600, exp: sec(NOW) + 7200 }), vendor);
    expect(await rejection(file)).toBe('LICENSE_NOT_YET_VALID');
    expect(await verifyLicense(file, keys, NOW + 3_600_000)).toBeTruthy();
    expect(await rejection(file, NOW + 7_200_000)).toBe('LICENSE_EXPIRED');
  });

  it('refuses malformed files and claims with LICENSE_MALFORMED', async () => {
    for (const bad of ['', 'abc', 'a.b', 'a.b.c.d', '{"license":1}', 'x'.repeat(70_000)]) {
      expect(await rejection(bad), bad.slice(0, 20)).toBe('LICENSE_MALFORMED');
    }
    const noSeats = await new SignJWT({ ...claims(), features: { solver: { seats: 0 } } })
      .setProtectedHeader({ alg: 'EdDSA', kid: vendor.kid, typ: 'license+jwt' })
      .sign(vendor.key);
    expect(await rejection(noSeats)).toBe('LICENSE_MALFORMED');
    const wrongTyp = await new SignJWT({ ...claims() })
      .setProtectedHeader({ alg: 'EdDSA', kid: vendor.kid, typ: 'lease+jwt' })
      .sign(vendor.key);
    expect(await rejection(wrongTyp)).toBe('LICENSE_MALFORMED');
  });

  it('decrypts a JWE-wrapped license with the customer key, and only with it', async () => {
    const customer = await generateKeyPairPems('enc');
    const customerKey = await importPrivateKey(customer.privatePem, 'enc');
    const sealed = await encryptLicense(
      await issueLicense(claims(), vendor),
      await importPublicKey(customer.publicPem, 'enc'),
    );
    expect(sealed.split('.')).toHaveLength(5);
    expect(sealed).not.toContain(base64url.encode(JSON.stringify({ solver: { seats: 10 } })).slice(0, 12));
    expect(await rejection(sealed)).toBe('LICENSE_DECRYPTION_FAILED');
    const withKey = { ...keys, decryptionKeys: new Map([[customerKey.kid, customerKey]]) };
    expect((await verifyLicense(sealed, withKey, NOW)).id).toBe('acme-cad');
    const parts = sealed.split('.');
    parts[3] = `${parts[3]?.slice(0, -2)}AA`;
    await expect(verifyLicense(parts.join('.'), withKey, NOW)).rejects.toMatchObject({
      code: 'LICENSE_DECRYPTION_FAILED',
    });
  });
});
