import { type CryptoKey, compactVerify, createLocalJWKSet, type JSONWebKeySet, SignJWT } from 'jose';
import type { AuditHead } from './audit-event.js';

/** The JOSE `typ` of a checkpoint (RFC 8725 §3.11): never confusable with a lease token or license. */
export const AUDIT_CHECKPOINT_TYP = 'audit-checkpoint+jwt';

/** A signed statement "the chain had this hash at this seq", made by the elected node. */
export interface AuditCheckpoint extends AuditHead {
  /** Wall-clock ms when it was signed. */
  readonly time: number;
  readonly node: string;
}

export interface StoredCheckpoint extends AuditCheckpoint {
  /** Compact JWS (EdDSA) over the fields above, with the cluster key's `kid`. */
  readonly jws: string;
}

export async function signCheckpoint(
  checkpoint: AuditCheckpoint,
  signer: { readonly kid: string; readonly key: CryptoKey },
): Promise<StoredCheckpoint> {
  const jws = await new SignJWT({
    seq: checkpoint.seq,
    hash: checkpoint.hash,
    node: checkpoint.node,
    iat: Math.floor(checkpoint.time / 1000),
    time: checkpoint.time,
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: AUDIT_CHECKPOINT_TYP })
    .sign(signer.key);
  return { ...checkpoint, jws };
}

/**
 * Verifies a checkpoint against the cluster's JWKS and returns what it signed; throws when the signature,
 * algorithm, `typ` or payload is wrong. The unsigned copy of the fields next to the JWS is never trusted.
 */
export async function verifyCheckpoint(jws: string, jwks: JSONWebKeySet): Promise<AuditCheckpoint> {
  const keys = createLocalJWKSet(jwks);
  const { payload, protectedHeader } = await compactVerify(jws, keys, { algorithms: ['EdDSA'] });
  if (protectedHeader.typ !== AUDIT_CHECKPOINT_TYP)
    throw new Error(`not a checkpoint (typ ${protectedHeader.typ})`);
  const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  const { seq, hash, node, time } = claims;
  if (
    typeof seq !== 'number' ||
    !Number.isSafeInteger(seq) ||
    typeof hash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(hash) ||
    typeof node !== 'string' ||
    typeof time !== 'number'
  ) {
    throw new Error('the checkpoint payload is malformed');
  }
  return { seq, hash, node, time };
}
