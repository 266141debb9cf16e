import type * as NodeCrypto from 'node:crypto';
import { bytesToBase64url } from './vendor-keys.js';

const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined;

/** base64url(SHA-256(text as ASCII/UTF-8)): the `lhash` a lease token binds its license with. */
export async function sha256Base64url(text: string): Promise<string> {
  if (nodeCrypto?.createHash) return nodeCrypto.createHash('sha256').update(text, 'utf8').digest('base64url');
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return bytesToBase64url(new Uint8Array(digest));
}
