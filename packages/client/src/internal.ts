/**
 * @leasehold/client/internal — seams for the repository's benchmarks, not part of the SDK's API (no
 * compatibility promise): the jose/WebCrypto signature verifier the SDK uses where `node:crypto` is missing,
 * and the token check that takes a verifier, so `bench/client.mjs` can compare the two verifiers; and the
 * JOSE types of the license and signing-key certificate, which the server's tests hold to the domain's.
 */
export { type JwsVerifier, joseVerifier } from './token/jws.js';
export { verifyLeaseTokenWith } from './token/verify-lease-token.js';
export { KEY_CERT_TYP, LICENSE_TYP } from './trust/trust-anchor.js';
