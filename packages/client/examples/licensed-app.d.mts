import type { LeaseholdClient } from '@leasehold/client';

/** How the app tells its user what the license allows. */
export interface LicensingUi {
  unlocked(): void;
  warn(message: string): void;
  locked(message: string): void;
}

export interface LicensingOptions {
  readonly client: LeaseholdClient;
  readonly feature: string;
  readonly ui: LicensingUi;
  /** Wait between checkout attempts while no seat is free or no server answers. Default 30,000 ms. */
  readonly retryMs?: number;
  /** Replaces the retry wait (tests drive it with a manual clock). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Keeps one feature licensed for as long as the app runs; `stop()` gives the seat back. */
export function startLicensing(options: LicensingOptions): Promise<{ stop(): Promise<void> }>;
