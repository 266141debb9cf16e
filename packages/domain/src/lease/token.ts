import { KeyObject, sign } from 'node:crypto';
import type { CryptoKey } from 'jose';
import type { LicenseBinding } from '../license/license-binding.js';
import type { Lease } from './lease.js';
import { tokenExpirySeconds } from './timing.js';

/** The JOSE `typ` of a lease token (RFC 8725 §3.11). */
export const LEASE_TOKEN_TYP = 'lease+jwt';

/**
 * Claims of a lease token. The SDK verifies them offline against the cluster's JWKS; `grace` is signed
 * here so that the offline grace period is the vendor's decision, never the client's. `lver` and `lhash`
 * bind the token to exactly one vendor-signed license (its version and the hash of its JWS, issue 11):
 * the SDK compares them with the license that comes with the grant. A node that cannot read the license
 * it granted under leaves them out, and an SDK holding vendor keys then refuses the grant.
 */
export interface LeaseTokenClaims {
  readonly iss: 'leasehold';
  readonly sub: string;
  readonly jti: string;
  readonly lic: string;
  readonly feat: string;
  readonly lver?: number;
  readonly lhash?: string;
  readonly fence: number;
  readonly slot: number;
  readonly grace: number;
  /**
   * The fencing epoch of the primary that signed (docs/replication.md, "Promotion"): a promoted replica
   * signs at a higher one, and an SDK that has seen it refuses grants of a lower one (the old primary's).
   * Always set by this release; absent from older nodes' tokens (read as 1).
   */
  readonly epoch?: number;
  readonly iat: number;
  readonly exp: number;
}

export interface SigningKey {
  readonly kid: string;
  readonly key: CryptoKey;
}

export function leaseTokenClaims(
  lease: Lease,
  now: number,
  license?: LicenseBinding,
  epoch = 1,
): LeaseTokenClaims {
  return {
    iss: 'leasehold',
    sub: lease.client.id,
    jti: lease.id,
    lic: lease.licenseId,
    feat: lease.feature,
    ...(license && license.id === lease.licenseId ? { lver: license.version, lhash: license.hash } : {}),
    fence: lease.fence,
    slot: lease.slot,
    grace: Math.floor(lease.graceMs / 1000),
    epoch,
    iat: Math.floor(now / 1000),
    exp: tokenExpirySeconds(lease.expiresAt),
  };
}

/**
 * Signs a lease token: a compact JWS (RFC 7515) of the claims with EdDSA (Ed25519), header
 * `{alg, kid, typ}`, byte for byte what jose's `SignJWT` makes (Ed25519 is deterministic; the token test
 * compares the two). Signed here with node:crypto's one-shot `sign` rather than through jose, because
 * this is the one signature on every checkout and renewal: jose signs through WebCrypto, which hands each
 * signature to the thread pool and back, and rebuilds and checks the same header each time; the
 * embedded benchmark measured the difference (bench/README.md). jose still makes and verifies every
 * other JWS, and verifies these.
 */
export async function signLeaseToken(
  lease: Lease,
  now: number,
  signer: SigningKey,
  license?: LicenseBinding,
  epoch = 1,
): Promise<string> {
  const { header, key } = compactSignerOf(signer);
  const payload = Buffer.from(JSON.stringify(leaseTokenClaims(lease, now, license, epoch))).toString(
    'base64url',
  );
  const input = `${header}.${payload}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

/** A signing key's constant parts: its encoded protected header, and the key as node:crypto takes it. */
interface CompactSigner {
  readonly kid: string;
  readonly header: string;
  readonly key: KeyObject;
}
const compactSigners = new WeakMap<CryptoKey, CompactSigner>();

function compactSignerOf(signer: SigningKey): CompactSigner {
  let made = compactSigners.get(signer.key);
  if (made?.kid !== signer.kid) {
    const header = { alg: 'EdDSA', kid: signer.kid, typ: LEASE_TOKEN_TYP };
    made = {
      kid: signer.kid,
      header: Buffer.from(JSON.stringify(header)).toString('base64url'),
      key: KeyObject.from(signer.key as Parameters<typeof KeyObject.from>[0]),
    };
    compactSigners.set(signer.key, made);
  }
  return made;
}
