import { readFile } from 'node:fs/promises';
import {
  importPrivateKey,
  importPublicKey,
  type PrivateKeyInfo,
  type PublicKeyInfo,
} from '@leasehold/domain';
import type { JWK } from 'jose';

/**
 * Reads trusted vendor public keys from files: an SPKI PEM, a JWK, or a JWK Set (`{"keys": [...]}`).
 */
export async function loadVendorKeys(paths: readonly string[]): Promise<Map<string, PublicKeyInfo>> {
  const keys = new Map<string, PublicKeyInfo>();
  for (const path of paths) {
    const text = await readKeyFile(path, 'vendor public key');
    const trimmed = text.trim();
    const parsed = trimmed.startsWith('{') ? (JSON.parse(trimmed) as { keys?: JWK[] }) : undefined;
    const entries = parsed?.keys ? parsed.keys.map((k) => JSON.stringify(k)) : [trimmed];
    for (const entry of entries) {
      try {
        const info = await importPublicKey(entry, 'sig');
        keys.set(info.kid, info);
      } catch (err) {
        throw new Error(`${path}: not an Ed25519 public key (${(err as Error).message})`);
      }
    }
  }
  return keys;
}

/** Reads customer private keys (PKCS#8 PEM, X25519) that decrypt JWE-wrapped licenses. */
export async function loadDecryptionKeys(paths: readonly string[]): Promise<Map<string, PrivateKeyInfo>> {
  const keys = new Map<string, PrivateKeyInfo>();
  for (const path of paths) {
    try {
      const info = await importPrivateKey(await readKeyFile(path, 'license decryption key'), 'enc');
      keys.set(info.kid, info);
    } catch (err) {
      throw new Error(`${path}: not an X25519 private key (${(err as Error).message})`);
    }
  }
  return keys;
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
