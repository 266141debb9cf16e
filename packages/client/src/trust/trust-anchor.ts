import { decodeProtectedHeader, type JSONWebKeySet, type JWK, type ProtectedHeaderParameters } from 'jose';
import { ALGORITHMS, defaultVerifier } from '../token/jws.js';
import { sha256Base64url } from './sha256.js';

/** The JOSE `typ` of a license file, as the vendor CLI writes it (`@leasehold/domain` LICENSE_TYP). */
export const LICENSE_TYP = 'license+jwt';
/** The JOSE `typ` of a signing-key certificate (`@leasehold/domain` KEY_CERT_TYP). */
export const KEY_CERT_TYP = 'lh-key-cert+jwt';

/** A license whose signature verified under one of the vendor keys. Times are epoch milliseconds. */
export interface VendorLicense {
  readonly id: string;
  readonly version: number;
  readonly product: string;
  readonly features: readonly string[];
  readonly notBefore: number;
  readonly expiresAt: number;
  /** Cluster ids the license is bound to; undefined when unbound. */
  readonly clusters: readonly string[] | undefined;
  /** base64url(SHA-256(JWS)): what a lease token's `lhash` must be. */
  readonly hash: string;
}

/** A signing key a cluster's identity key certified. */
export interface CertifiedKey {
  /** The cluster id: the identity key's RFC 7638 thumbprint. */
  readonly clusterId: string;
  /** The signing key's `kid` (its thumbprint) and a one-key set to verify lease tokens with. */
  readonly kid: string;
  readonly jwks: JSONWebKeySet;
}

/** Why a license or certificate does not count; the caller wraps it in LICENSE_UNTRUSTED. */
export class Untrusted extends Error {
  override readonly name = 'Untrusted';
}

const MEMO_LIMIT = 64;
// Header parameters that carry or point to a key: a license never brings its own (CVE-2018-0114 class).
const EMBEDDED_KEY_PARAMS = ['jwk', 'jku', 'x5c', 'x5u'] as const;

/**
 * The vendor's public keys baked into a product, and the checks a grant's chain goes through (issue 11):
 * a license must verify under one of them (EdDSA only, typed `license+jwt`, within its dates), and a
 * signing-key certificate must verify under the identity key it names. Signature checks are remembered
 * per license or certificate text (a renewal brings the same ones again); dates are checked every time.
 *
 * Signatures go through the SDK's one JWS verifier (token/jws.ts): `node:crypto` where the runtime has it,
 * jose over WebCrypto elsewhere. Synchronous Ed25519 keeps a grant's check within one turn of the event
 * loop, as for lease tokens, so fake-clock tests stay deterministic.
 */
export class TrustAnchor {
  readonly product: string | undefined;
  readonly #keys: Promise<JSONWebKeySet>;
  readonly #licenses = new Map<string, Promise<VendorLicense>>();
  readonly #certificates = new Map<string, Promise<CertifiedKey>>();

  constructor(vendorKeys: readonly JWK[], product: string | undefined) {
    this.product = product;
    this.#keys = Promise.all(
      vendorKeys.map(async (jwk) => ({ ...jwk, kid: await thumbprint(jwk), alg: 'EdDSA', use: 'sig' })),
    ).then((keys) => ({ keys }));
  }

  /** Verifies a license JWS against the vendor keys and its dates at `now` (± `toleranceMs`). */
  async license(jws: string, now: number, toleranceMs: number): Promise<VendorLicense> {
    const license = await remember(this.#licenses, jws, () => this.#verifyLicense(jws));
    if (now < license.notBefore - toleranceMs) {
      throw new Untrusted(`license "${license.id}" is not valid before ${iso(license.notBefore)}`);
    }
    if (now >= license.expiresAt + toleranceMs) {
      throw new Untrusted(`license "${license.id}" expired at ${iso(license.expiresAt)}`);
    }
    return license;
  }

  /** Verifies a signing-key certificate under the identity key it carries. */
  certificate(jwt: string): Promise<CertifiedKey> {
    return remember(this.#certificates, jwt, () => verifyCertificate(jwt));
  }

  async #verifyLicense(jws: string): Promise<VendorLicense> {
    const header = headerOf(jws, 'the license');
    if (header.typ !== LICENSE_TYP)
      throw new Untrusted(`the license's typ is "${String(header.typ)}", not "${LICENSE_TYP}"`);
    const embedded = EMBEDDED_KEY_PARAMS.find((p) => p in header);
    if (embedded) throw new Untrusted(`the license header brings its own key ("${embedded}")`);
    const keys = await this.#keys;
    // The vendor CLI names the signing key by its thumbprint, and so do we: no kid, no key.
    if (typeof header.kid !== 'string' || !keys.keys.some((k) => k.kid === header.kid)) {
      throw new Untrusted(
        `the license is signed by key "${String(header.kid)}", which is not one of the vendor keys`,
      );
    }
    const payload = await verifySignature(
      jws,
      keys,
      header.kid,
      'the license signature does not verify under the vendor keys',
    );
    return licenseFrom(asObject(payload, 'license'), await sha256Base64url(jws));
  }
}

async function verifyCertificate(jwt: string): Promise<CertifiedKey> {
  const header = headerOf(jwt, 'the signing-key certificate');
  if (header.typ !== KEY_CERT_TYP) {
    throw new Untrusted(
      `the signing-key certificate's typ is "${String(header.typ)}", not "${KEY_CERT_TYP}"`,
    );
  }
  const [, body] = jwt.split('.');
  const claims = parseJson(base64urlBytes(body ?? ''), 'signing-key certificate');
  const idk = okp(claims.idk, 'identity key (idk)');
  const signing = okp((claims.cnf as { jwk?: unknown } | undefined)?.jwk, 'certified key (cnf.jwk)');
  const clusterId = await thumbprint(idk);
  if (header.kid !== clusterId || claims.iss !== clusterId) {
    throw new Untrusted('the signing-key certificate names another cluster than the key that signs it');
  }
  await verifySignature(
    jwt,
    { keys: [{ ...idk, kid: clusterId }] },
    clusterId,
    'the signing-key certificate does not verify under its identity key',
  );
  const kid = await thumbprint(signing);
  if (claims.sub !== kid)
    throw new Untrusted('the signing-key certificate names another key than it certifies');
  return Object.freeze({
    clusterId,
    kid,
    jwks: Object.freeze({ keys: [Object.freeze({ ...signing, kid, alg: 'EdDSA', use: 'sig' })] }),
  });
}

function licenseFrom(claims: Record<string, unknown>, hash: string): VendorLicense {
  const { lid, ver, product, features, nbf, exp, clusters } = claims;
  const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (
    typeof lid !== 'string' ||
    typeof ver !== 'number' ||
    !Number.isSafeInteger(ver) ||
    typeof product !== 'string' ||
    typeof features !== 'object' ||
    features === null ||
    Array.isArray(features) ||
    !isTime(nbf) ||
    !isTime(exp)
  ) {
    throw new Untrusted('the license lacks lid, ver, product, features, nbf or exp');
  }
  if (clusters !== undefined && (!Array.isArray(clusters) || !clusters.every((c) => typeof c === 'string'))) {
    throw new Untrusted('the license\'s "clusters" claim is not a list of cluster ids');
  }
  return Object.freeze({
    id: lid,
    version: ver,
    product,
    features: Object.freeze(Object.keys(features)),
    notBefore: nbf * 1000,
    expiresAt: exp * 1000,
    clusters: clusters === undefined ? undefined : Object.freeze([...(clusters as string[])]),
    hash,
  });
}

/** RFC 7638 §3.2 for an Ed25519 key: SHA-256 of its required members in lexical order. */
function thumbprint(jwk: JWK): Promise<string> {
  return sha256Base64url(`{"crv":"Ed25519","kty":"OKP","x":"${String(jwk.x)}"}`);
}

async function verifySignature(
  jws: string,
  keys: JSONWebKeySet,
  kid: string,
  failure: string,
): Promise<unknown> {
  try {
    return await defaultVerifier(jws, keys, kid);
  } catch {
    throw new Untrusted(failure);
  }
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Untrusted(`the ${what} payload is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function headerOf(jws: string, what: string): ProtectedHeaderParameters {
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new Untrusted(`${what} is not a compact JWS`);
  }
  if (jws.split('.').length !== 3) throw new Untrusted(`${what} is not a compact JWS`);
  if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) {
    throw new Untrusted(`${what} uses algorithm "${String(header.alg)}" (EdDSA only)`);
  }
  if (header.crit !== undefined || header.b64 !== undefined) {
    throw new Untrusted(`${what} uses a JWS extension ("crit" or "b64") that is not supported`);
  }
  return header;
}

function okp(value: unknown, what: string): JWK {
  const jwk = value as JWK | undefined;
  if (
    typeof jwk !== 'object' ||
    jwk === null ||
    jwk.kty !== 'OKP' ||
    jwk.crv !== 'Ed25519' ||
    typeof jwk.x !== 'string' ||
    jwk.d !== undefined
  ) {
    throw new Untrusted(`the signing-key certificate's ${what} is not an Ed25519 public JWK`);
  }
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new Untrusted(`the ${what} payload is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Untrusted(`the ${what} payload is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function base64urlBytes(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return new Uint8Array();
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  try {
    return Uint8Array.from(globalThis.atob(padded), (c) => c.charCodeAt(0));
  } catch {
    return new Uint8Array();
  }
}

/** One verification per text, shared by concurrent callers; failures are remembered too (same text, same answer). */
function remember<T>(memo: Map<string, Promise<T>>, text: string, verify: () => Promise<T>): Promise<T> {
  let pending = memo.get(text);
  if (!pending) {
    if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
    pending = verify();
    pending.catch(() => undefined);
    memo.set(text, pending);
  }
  return pending;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
