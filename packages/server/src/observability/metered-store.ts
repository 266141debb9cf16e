import { type Lease, LeaseholdError } from '@leasehold/domain';
import type { AcquireSeatResult, LeaseStore } from '@leasehold/store';
import type { NodeMetrics } from './node-metrics.js';

/** The error code label of a failed store operation: registry codes only, so the label set stays bounded. */
export function errorCodeLabel(err: unknown): string {
  return err instanceof LeaseholdError ? err.code : 'UNEXPECTED';
}

type Outcome = (result: unknown) => void;

/**
 * Wraps a store so that every method is timed (`op` = method name) and every failure counted by code,
 * and so that the seat events (grants, denials, renewals, check-ins, expiries) are counted where they
 * happen. A Proxy rather than a class listing each method: methods added to the port later (audit, …)
 * are measured without touching this file.
 */
export function meterStore<S extends LeaseStore>(store: S, metrics: NodeMetrics): S {
  const outcomes: Partial<Record<string, Outcome>> = {
    acquireSeat: (result) => {
      const { lease, replayed } = result as AcquireSeatResult;
      if (!replayed) metrics.checkoutsGranted.inc({ license: lease.licenseId, feature: lease.feature });
    },
    renewLease: () => metrics.leasesRenewed.inc(),
    releaseSeat: () => metrics.leasesReleased.inc(),
    expireLeases: (result) => metrics.leasesExpired.inc((result as Lease[]).length),
  };
  // Keyed by the method itself, not its name: a store whose methods change (a replica's read-only view,
  // whose writes become the real ones at promotion) must not keep the wrapper of the method it had first.
  // Caching by name kept a promoted replica answering REPLICA_READ_ONLY for good.
  const wrapped = new WeakMap<object, unknown>();

  const meter = (op: string, method: (...args: unknown[]) => unknown) =>
    function metered(this: unknown, ...args: unknown[]): unknown {
      const started = performance.now();
      const done = (error: unknown, result?: unknown) => {
        metrics.storeDuration.observe({ op }, (performance.now() - started) / 1000);
        if (error === undefined) {
          outcomes[op]?.(result);
          return;
        }
        const code = errorCodeLabel(error);
        metrics.storeErrors.inc({ op, code });
        if (op === 'acquireSeat') metrics.checkoutsDenied.inc({ reason: code });
      };
      let result: unknown;
      try {
        result = method.apply(store, args);
      } catch (err) {
        done(err);
        throw err;
      }
      if (result instanceof Promise) {
        return result.then(
          (value) => {
            done(undefined, value);
            return value;
          },
          (err: unknown) => {
            done(err);
            throw err;
          },
        );
      }
      done(undefined, result);
      return result;
    };

  return new Proxy(store, {
    get(target, property) {
      // The target as receiver: getters reading private (#) fields fail when `this` is the proxy.
      const value = Reflect.get(target, property);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') {
        return value;
      }
      let fn = wrapped.get(value);
      if (fn === undefined) {
        fn = meter(property, value as (...args: unknown[]) => unknown);
        wrapped.set(value, fn);
      }
      return fn;
    },
  });
}
