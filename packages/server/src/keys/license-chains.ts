import {
  type Clock,
  type LicenseBinding,
  type LicenseVerificationKeys,
  licenseBindingOf,
  signedLicenseOf,
} from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';

/** How long a node reuses a license's binding before reading the store again. */
export const LICENSE_CHAIN_TTL_MS = 5000;

interface Cached {
  readonly binding: LicenseBinding | undefined;
  readonly loadedAt: number;
}

/**
 * The vendor-signed license behind each lease, for the chain every grant carries to the SDK (issue 11):
 * the license JWS goes into the checkout and renewal answers, and its id, version and hash into the lease
 * token. Read from the store (decrypting a JWE-wrapped license with the node's license keys) and kept for
 * a few seconds, because every checkout and renewal needs it and a read costs an etcd round trip.
 *
 * A binding a little stale is harmless as long as it is still one the vendor signed and it still covers
 * the lease: a cached version that lacks the lease's feature (an upgrade added it) or has expired (an
 * upgrade extended it) is read again at once. A license this node cannot read (its decryption key was
 * removed) has no binding: the token then carries none, and an SDK with vendor keys refuses the grant.
 */
export class LicenseChains {
  readonly #cache = new Map<string, Cached>();
  readonly #loading = new Map<string, Promise<LicenseBinding | undefined>>();

  constructor(
    private readonly store: LeaseStore,
    private readonly keys: LicenseVerificationKeys,
    private readonly clock: Clock,
    private readonly warn: (fields: object, message: string) => void = () => undefined,
    private readonly ttlMs = LICENSE_CHAIN_TTL_MS,
  ) {}

  /** The binding of license `id` that covers `feature` at `now`, if this node can read one. */
  async get(id: string, feature: string, now: number): Promise<LicenseBinding | undefined> {
    const cached = this.#cache.get(id);
    const fresh = cached !== undefined && this.clock.monotonic() - cached.loadedAt < this.ttlMs;
    if (fresh && (cached.binding === undefined || covers(cached.binding, feature, now)))
      return cached.binding;
    let loading = this.#loading.get(id);
    if (!loading) {
      loading = this.#load(id).finally(() => this.#loading.delete(id));
      this.#loading.set(id, loading);
    }
    return loading;
  }

  /** Drops what is kept of license `id` (this node just installed or revoked it). */
  forget(id: string): void {
    this.#cache.delete(id);
  }

  async #load(id: string): Promise<LicenseBinding | undefined> {
    const loadedAt = this.clock.monotonic();
    const license = await this.store.getLicense(id);
    let binding: LicenseBinding | undefined;
    if (license) {
      try {
        binding = licenseBindingOf(await signedLicenseOf(license.raw, this.keys));
      } catch (err) {
        this.warn(
          { err, license: id },
          'cannot read the signed license behind this lease (was its --license-key removed?): grants under it carry no vendor chain, and SDKs with vendor keys refuse them',
        );
      }
    }
    if (this.#cache.size >= 10_000) this.#cache.clear(); // bounded; licenses are few
    this.#cache.set(id, { binding, loadedAt });
    return binding;
  }
}

function covers(binding: LicenseBinding, feature: string, now: number): boolean {
  return binding.features.includes(feature) && now < binding.expiresAt;
}
