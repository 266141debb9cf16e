// A licensed app as a vendor would write it with @leasehold/client — copy it and change the UI calls.
//
// - At start it checks a seat of the feature out. No seat free, or no server reachable: the feature stays
//   locked and the app keeps asking in the background.
// - Then the SDK renews on whichever node is healthy and fails over by itself. When no node answers, the
//   feature stays unlocked on the signed token for the offline grace the license sets, and the user is
//   told; when the grace runs out it locks, and unlocks again when a server is back.
// - On exit (Ctrl-C, SIGTERM) it gives the seat back.
// - Only a license the vendor signed unlocks it: the vendor's public key ships inside the app
//   (vendor.pub.pem beside this file, from `leasehold keys generate`), and a license server whose grants
//   do not chain to a license that key signed gets LICENSE_UNTRUSTED, however it is set up.
//
//   cp vendor/vendor.pub.pem examples/ && \
//   LEASEHOLD_SERVERS=https://lic1.example.com,https://lic2.example.com \
//   LEASEHOLD_TOKEN=lh_client_... node examples/licensed-app.mjs
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createClient, isLeaseholdClientError } from '@leasehold/client';

/**
 * Keeps one feature licensed for as long as the app runs. `ui` is how the app tells its user:
 * `unlocked()`, `warn(message)`, `locked(message)`. Returns `stop()`, which gives the seat back.
 *
 * @param {{ client: import('@leasehold/client').LeaseholdClient, feature: string,
 *   ui: { unlocked(): void, warn(message: string): void, locked(message: string): void },
 *   retryMs?: number, sleep?: (ms: number, signal: AbortSignal) => Promise<void> }} options
 */
export async function startLicensing({ client, feature, ui, retryMs = 30_000, sleep = abortableSleep }) {
  const stopped = new AbortController();

  const watch = (lease) => {
    lease.on('degraded', ({ entitledForMs }) =>
      ui.warn(`license server unreachable; ${feature} keeps working offline for ${minutes(entitledForMs)}`),
    );
    lease.on('lost', ({ reason, final }) =>
      ui.locked(
        final
          ? `the ${feature} license has ended (${reason})`
          : `the ${feature} license is offline too long (${reason})`,
      ),
    );
    lease.on('restored', () => ui.unlocked());
  };

  // Bounded by the app's lifetime: it stops when stop() is called or a definitive error comes back.
  const acquire = async () => {
    while (!stopped.signal.aborted) {
      try {
        watch(await client.checkout(feature, { signal: stopped.signal }));
        ui.unlocked();
        return;
      } catch (err) {
        if (stopped.signal.aborted) return;
        if (isLeaseholdClientError(err, 'LICENSE_UNTRUSTED')) {
          ui.locked(`this license server holds no license from the vendor of ${feature}`);
          return; // its grants will not chain on the next try either
        }
        if (isLeaseholdClientError(err, 'SEATS_EXHAUSTED')) {
          ui.locked(`all ${err.problem?.seats ?? ''} seats of ${feature} are in use; waiting for one`);
        } else if (isLeaseholdClientError(err) && err.retryable) {
          ui.locked('the license server cannot be reached; retrying');
        } else {
          ui.locked(`${feature} is not licensed here: ${err instanceof Error ? err.message : String(err)}`);
          return; // a bad token, an unknown feature: asking again will not help
        }
      }
      await sleep(retryMs, stopped.signal);
    }
  };
  const acquiring = acquire();

  return {
    /** Stops asking and gives every seat back. */
    async stop() {
      stopped.abort();
      await acquiring;
      await client.close();
    },
  };
}

function minutes(ms) {
  return `${Math.max(1, Math.round(ms / 60_000))} min`;
}

function abortableSleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function main() {
  const client = createClient({
    servers: (process.env.LEASEHOLD_SERVERS ?? '').split(',').filter(Boolean),
    token: process.env.LEASEHOLD_TOKEN ?? '',
    clientId: process.env.LEASEHOLD_CLIENT_ID ?? hostname(),
    host: hostname(),
    // Baked into the product: the licenses it accepts are the ones this key signed, for this product.
    vendorKeys: readFileSync(new URL('./vendor.pub.pem', import.meta.url), 'utf8'),
    product: 'cad',
  });
  const licensing = await startLicensing({
    client,
    feature: 'solver',
    ui: {
      unlocked: () => console.log('solver: unlocked'),
      warn: (message) => console.warn(`solver: ${message}`),
      locked: (message) => console.error(`solver: locked: ${message}`),
    },
  });
  // The app's own work; the hot path asks the SDK, which answers from memory.
  const work = setInterval(() => {
    if (client.isEntitled('solver')) console.log('solving...');
  }, 5000);
  const exit = async () => {
    clearInterval(work);
    await licensing.stop();
    process.exit(0);
  };
  process.once('SIGINT', exit);
  process.once('SIGTERM', exit);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
