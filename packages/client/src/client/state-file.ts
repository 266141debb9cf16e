import { errorFields, type Log } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import type { StateStore } from '../time/state-store.js';
import type { TrustedTime } from '../time/trusted-time.js';
import { parseJwks } from '../token/fetch-jwks.js';
import type { JwksCache } from '../token/jwks-cache.js';
import type { EpochWatermark } from './epoch-watermark.js';

// The wall-clock high-water mark is written at most this often while leases renew (and at close).
const SAVE_INTERVAL_MS = 60_000;
const STATE_VERSION = 1;

/**
 * What a client keeps across restarts in its `stateStore`: the wall-clock high-water mark, the JWK Set
 * and the highest fencing epoch seen (`epoch`; absent from states written before it, read as 1).
 */
export class StateFile {
  readonly #store: StateStore | undefined;
  readonly #clock: Clock;
  readonly #trusted: TrustedTime;
  readonly #jwks: JwksCache;
  readonly #epochs: EpochWatermark;
  readonly #log: Log;
  #lastSave = Number.NEGATIVE_INFINITY;

  constructor(
    store: StateStore | undefined,
    clock: Clock,
    remembered: { trusted: TrustedTime; jwks: JwksCache; epochs: EpochWatermark },
    log: Log,
  ) {
    this.#store = store;
    this.#clock = clock;
    this.#trusted = remembered.trusted;
    this.#jwks = remembered.jwks;
    this.#epochs = remembered.epochs;
    this.#log = log;
  }

  /** Reads the state store once; a missing or broken state is not an error. */
  async load(): Promise<void> {
    const store = this.#store;
    if (!store) return;
    try {
      const text = await store.load();
      if (!text) return;
      const state = JSON.parse(text) as { v?: unknown; hwm?: unknown; jwks?: unknown; epoch?: unknown };
      if (state.v !== STATE_VERSION) return;
      if (typeof state.hwm === 'number') this.#trusted.observe(state.hwm);
      if (typeof state.epoch === 'number') this.#epochs.raise(state.epoch);
      if (state.jwks !== undefined) this.#jwks.set(parseJwks(state.jwks, 'state store'));
    } catch (err) {
      this.#log('warn', errorFields(err), 'could not read the state store; starting without it');
    }
  }

  /** Writes the state store: at once when `force`, else at most every SAVE_INTERVAL_MS. Never throws. */
  async save(force: boolean): Promise<void> {
    const store = this.#store;
    if (!store) return;
    const now = this.#clock.monotonic();
    if (!force && now - this.#lastSave < SAVE_INTERVAL_MS) return;
    this.#lastSave = now;
    try {
      await store.save(
        JSON.stringify({
          v: STATE_VERSION,
          hwm: this.#trusted.now(),
          jwks: this.#jwks.current,
          epoch: this.#epochs.highest,
        }),
      );
    } catch (err) {
      this.#log('warn', errorFields(err), 'could not write the state store');
    }
  }
}
