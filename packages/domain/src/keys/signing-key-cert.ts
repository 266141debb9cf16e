import { type JWK, SignJWT } from 'jose';
import type { PrivateKeyInfo } from './key-pair.js';

/** The JOSE `typ` of a signing-key certificate (explicit typing, RFC 8725 §3.11). */
export const KEY_CERT_TYP = 'lh-key-cert+jwt';

/**
 * A cluster's identity key vouching for one of its lease-token signing keys: a JWT signed by the identity
 * key whose `iss` is the cluster id (the identity key's RFC 7638 thumbprint), `idk` the identity public
 * key, `sub` the signing key's `kid` and `cnf.jwk` the signing public key (the RFC 7800 confirmation-key
 * claim: "the key this token vouches for").
 *
 * A license bound to a cluster names the cluster id, never a signing key, so the token-signing key can
 * rotate without a new license: the SDK checks that the certificate's identity key hashes to a cluster
 * id the license names, that the certificate verifies under it, and that the lease token verifies under
 * the certified key (issue 11; docs/security.md "Cluster binding").
 *
 * Ed25519 signatures are deterministic: every node of a cluster makes the same certificate for a key.
 */
export async function certifySigningKey(
  identity: PrivateKeyInfo,
  signing: { readonly kid: string; readonly publicJwk: JWK },
  issuedAtMs: number,
): Promise<string> {
  return new SignJWT({
    idk: bareOkp(identity.publicJwk),
    cnf: { jwk: bareOkp(signing.publicJwk) },
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: identity.kid, typ: KEY_CERT_TYP })
    .setIssuer(identity.kid)
    .setSubject(signing.kid)
    .setIssuedAt(Math.floor(issuedAtMs / 1000))
    .sign(identity.key);
}

/** The members of an Ed25519 public JWK that its RFC 7638 thumbprint covers. */
function bareOkp(jwk: JWK): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x } as JWK;
}
