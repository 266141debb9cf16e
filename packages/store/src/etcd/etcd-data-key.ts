import type { InstalledLicense } from '@leasehold/domain';
import type { RandomBytes } from '../crypto/aes-gcm.js';
import { newDataKey, parseWrappedDataKey, unwrapDataKey, wrapDataKey } from '../crypto/data-key.js';
import { kekFingerprint } from '../crypto/key-encryption-key.js';
import { RecordCipher } from '../crypto/record-cipher.js';
import { sealLicense, sealSigningKey } from '../crypto/sealed-records.js';
import type { KekRotation, StoredSigningKey } from '../port/lease-store.js';
import { commit } from './conflict.js';
import type { Compare, EtcdGateway, WriteOp } from './etcd-gateway.js';
import type { Keyspace } from './keyspace.js';
import type { DataKeyLoader } from './optimistic.js';

/**
 * The cluster's data key in etcd, wrapped under the key-encryption key (docs/security.md), and the
 * record cipher made from it. Loaded by the first store operation (see Optimistic), kept in memory after.
 */
export class EtcdDataKey implements DataKeyLoader {
  #cipher: RecordCipher | undefined;

  constructor(
    private readonly gateway: EtcdGateway,
    private readonly keys: Keyspace,
    private readonly kek: Uint8Array,
    private readonly randomBytes: RandomBytes | undefined,
  ) {}

  get ready(): boolean {
    return this.#cipher !== undefined;
  }

  sealer(): RecordCipher {
    if (!this.#cipher) throw new Error('the data key is read before any record (see Optimistic)');
    return this.#cipher;
  }

  /**
   * Reads and unwraps the cluster's data key, or makes it (create-if-absent: two nodes starting at once
   * keep one). A wrong KEK is KEK_MISMATCH. Records written before encryption at rest are sealed in the
   * same transaction that creates the data key, guarded by their mod revisions.
   */
  async load(): Promise<void> {
    const { results } = await this.gateway.read([
      { key: this.keys.dataKey() },
      { prefix: this.keys.licenses() },
      { prefix: this.keys.signingKeys() },
    ]);
    const stored = results[0]?.[0];
    if (stored) {
      const dataKey = unwrapDataKey(parseWrappedDataKey(stored.value.toString()), this.kek);
      this.#cipher = new RecordCipher(dataKey, this.randomBytes);
      return;
    }
    const dataKey = newDataKey(this.randomBytes);
    const cipher = new RecordCipher(dataKey, this.randomBytes);
    const compare: Compare[] = [{ key: this.keys.dataKey(), target: 'Create', equals: 0 }];
    const writes: WriteOp[] = [
      { put: this.keys.dataKey(), value: JSON.stringify(wrapDataKey(dataKey, this.kek, this.randomBytes)) },
    ];
    for (const kv of results[1] ?? []) {
      const plain = JSON.parse(kv.value.toString()) as InstalledLicense;
      if (RecordCipher.isSealed(plain.raw)) continue;
      compare.push({ key: kv.key, target: 'Mod', equals: kv.modRevision });
      writes.push({ put: kv.key, value: JSON.stringify(sealLicense(plain, cipher)) });
    }
    for (const kv of results[2] ?? []) {
      if (kv.key.endsWith('~first')) continue;
      const plain = JSON.parse(kv.value.toString()) as StoredSigningKey;
      if (RecordCipher.isSealed(plain.privatePem)) continue;
      compare.push({ key: kv.key, target: 'Mod', equals: kv.modRevision });
      writes.push({ put: kv.key, value: JSON.stringify(sealSigningKey(plain, cipher)) });
    }
    await commit(this.gateway, compare, writes); // a Conflict re-reads: another node made the key first
    this.#cipher = cipher;
  }

  /** One attempt at wrapping the data key under `newKek` (run it in the optimistic loop). */
  async rotate(newKek: Uint8Array): Promise<KekRotation> {
    const { results } = await this.gateway.read([{ key: this.keys.dataKey() }]);
    const kv = results[0]?.[0];
    const dataKey = this.sealer().dataKey;
    if (!kv || parseWrappedDataKey(kv.value.toString()).id !== dataKey.id) {
      throw new Error('the data key changed under an open store');
    }
    // Opening proved the old KEK; the data key itself is in memory.
    const rewrapped = wrapDataKey(dataKey, newKek, this.randomBytes);
    await commit(
      this.gateway,
      [{ key: kv.key, target: 'Mod', equals: kv.modRevision }],
      [{ put: kv.key, value: JSON.stringify(rewrapped) }],
    );
    return { dataKeyId: dataKey.id, kek: kekFingerprint(newKek) };
  }
}
