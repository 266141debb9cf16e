import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Static } from 'typebox';
import type { LeaseView, LicenseView, TokenView } from '../http/schemas.js';
import { type ApiOptions, apiClient, apiTarget } from './api-client.js';
import { outputFormat, withOutput } from './output/output-format.js';
import {
  type ClusterAnswer,
  leasesTable,
  licensesTable,
  statusReport,
  tokensTable,
} from './output/tables.js';

/** The OS user name, or the uid when it has no passwd entry (e.g. `docker run --user 12345`). */
function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? String(process.getuid?.() ?? 'unknown');
  }
}

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

/** Adds the options every command that talks to a node shares. */
function withServer(command: Command): Command {
  return command
    .option('-s, --server <url>', 'node URL (env LEASEHOLD_SERVER; default http://127.0.0.1:7300)')
    .option('-t, --token <token>', 'API token (env LEASEHOLD_TOKEN; default <data-dir>/admin.token)')
    .option('-d, --data-dir <dir>', 'where to find admin.token (default ./data)');
}

type Opts = ApiOptions & Record<string, unknown>;

/** The node's answer as JSON (`-o json`, `--json`), or the table made of it for people. */
const show = <T>(opts: Opts, answer: T, table: (answer: T, now: number) => string): void => {
  if (outputFormat(opts) === 'json') print(answer);
  else process.stdout.write(table(answer, Date.now()));
};

/**
 * The query of `leases list` from its flags: one line per flag, so that paging flags (`--limit`,
 * `--after`) join the same way.
 */
export function leaseListQuery(opts: Opts): URLSearchParams {
  const query = new URLSearchParams();
  if (opts.license) query.set('license', String(opts.license));
  if (opts.feature) query.set('feature', String(opts.feature));
  if (opts.all) query.set('all', 'true');
  if (opts.limit) query.set('limit', String(opts.limit));
  if (opts.after) query.set('after', String(opts.after));
  return query;
}

export function registerServerCommands(program: Command, license: Command): void {
  withServer(license.command('install <file>'))
    .description('verify and install a license file on a node')
    .action(async (file: string, opts: Opts) => {
      print(await apiClient(opts)('POST', '/v1/licenses', { license: readFileSync(file, 'utf8') }));
    });
  withOutput(withServer(license.command('list')))
    .description('installed licenses with seat usage and expiry')
    .action(async (opts: Opts) =>
      show(
        opts,
        await apiClient(opts)<{ licenses: Static<typeof LicenseView>[] }>('GET', '/v1/licenses'),
        (a, now) => licensesTable(a.licenses, now),
      ),
    );
  withServer(license.command('revoke <id>'))
    .description('revoke a license: no new checkouts or renewals')
    .action(async (id: string, opts: Opts) =>
      print(await apiClient(opts)('POST', `/v1/licenses/${encodeURIComponent(id)}/revoke`)),
    );

  const leases = program.command('leases').description('floating seats');
  withOutput(withServer(leases.command('list')))
    .description('leases holding seats: who, which seat, since when')
    .option('--license <id>')
    .option('--feature <name>')
    .option('--all', 'include ended leases')
    .option('--limit <n>', 'leases per page (the server default is 1000)')
    .option('--after <cursor>', 'start after this cursor (the "next" of a previous page)')
    .option('--all-pages', 'follow "next" to the last page and show every lease')
    .action(async (opts: Opts) => {
      type Page = { leases: Static<typeof LeaseView>[]; next?: string };
      const query = leaseListQuery(opts);
      const call = apiClient(opts);
      let answer = await call<Page>('GET', `/v1/leases?${query}`);
      if (opts.allPages) {
        const leases = [...answer.leases];
        // Bounded: each cursor moves forward, so a listing ends; a server that kept answering would not.
        for (let pages = 1; answer.next !== undefined; pages++) {
          if (pages >= 100_000) throw new Error('the listing did not end after 100,000 pages');
          query.set('after', answer.next);
          answer = await call<Page>('GET', `/v1/leases?${query}`);
          leases.push(...answer.leases);
        }
        answer = { leases };
      }
      return show(opts, answer, (a, now) => leasesTable(a.leases, now));
    });
  withServer(leases.command('checkout <feature>'))
    .description('check a seat out (for scripts and trials; products use @leasehold/client)')
    .option('--license <id>')
    .option('--client-id <id>', 'client identity (default: host/user)')
    .option('--request-id <id>', 'idempotency key (default: a new UUID)')
    .action(async (feature: string, opts: Opts) =>
      print(
        await apiClient(opts)('POST', '/v1/leases', {
          feature,
          license: opts.license,
          client: { id: opts.clientId ?? `${hostname()}/${userName()}`, host: hostname(), user: userName() },
          requestId: opts.requestId ?? randomUUID(),
        }),
      ),
    );
  // A client token acts only on its own client's leases (issue 11): it names the client id it checked out as.
  const asClient = (opts: Opts) =>
    opts.clientId === undefined ? '' : `?client=${encodeURIComponent(String(opts.clientId))}`;
  withServer(leases.command('renew <id>'))
    .description('renew a lease')
    .option('--client-id <id>', 'the client id the lease was checked out as (needed with a client token)')
    .action(async (id: string, opts: Opts) =>
      print(await apiClient(opts)('POST', `/v1/leases/${encodeURIComponent(id)}/renew${asClient(opts)}`)),
    );
  withServer(leases.command('checkin <id>'))
    .description('check a seat in')
    .option('--client-id <id>', 'the client id the lease was checked out as (needed with a client token)')
    .action(async (id: string, opts: Opts) =>
      print(await apiClient(opts)('DELETE', `/v1/leases/${encodeURIComponent(id)}${asClient(opts)}`)),
    );
  withServer(leases.command('release <id>'))
    .description('operator force-release (stops renewals; --immediate frees the seat now)')
    .option('--immediate', 'free the seat now, even though the holder may still run on its token')
    .action(async (id: string, opts: Opts) =>
      print(
        await apiClient(opts)('POST', `/v1/leases/${encodeURIComponent(id)}/force-release`, {
          immediate: Boolean(opts.immediate),
        }),
      ),
    );

  const tokens = program.command('tokens').description('API tokens');
  withServer(tokens.command('create'))
    .description('create a token (the secret is printed once)')
    .requiredOption('--scope <scope>', 'admin | operator | client | replica')
    .option('--license <id>', 'the license a client token is bound to')
    .option('--name <name>')
    .action(async (opts: Opts) =>
      print(
        await apiClient(opts)('POST', '/v1/tokens', {
          scope: opts.scope,
          license: opts.license,
          name: opts.name,
        }),
      ),
    );
  withOutput(withServer(tokens.command('list')))
    .description('tokens (never their secrets)')
    .action(async (opts: Opts) =>
      show(opts, await apiClient(opts)<{ tokens: Static<typeof TokenView>[] }>('GET', '/v1/tokens'), (a) =>
        tokensTable(a.tokens),
      ),
    );
  withServer(tokens.command('revoke <id>'))
    .description('revoke a token')
    .action(async (id: string, opts: Opts) =>
      print(await apiClient(opts)('DELETE', `/v1/tokens/${encodeURIComponent(id)}`)),
    );

  const cluster = program.command('cluster').description('this cluster');
  withServer(cluster.command('id'))
    .description("the cluster's id, one line: send it to the vendor for a license bound to this cluster")
    .action(async (opts: Opts) => {
      const answer = await apiClient(opts)<{ clusterId: string }>('GET', '/v1/cluster');
      process.stdout.write(`${answer.clusterId}\n`);
    });

  const replica = program.command('replica').description('DR replicas (docs/replication.md)');
  withServer(replica.command('promote'))
    .description(
      'make this replica the primary under a new fencing epoch: renewals at once, new grants after one ' +
        'maximum lease TTL (learning mode); it keeps telling the old primary it was superseded',
    )
    .action(async (opts: Opts) => print(await apiClient(opts)('POST', '/v1/replication/promote')));

  withServer(program.command('drain'))
    .description('take a node out of /readyz before stopping it (it keeps serving until then)')
    .action(async (opts: Opts) => print(await apiClient(opts)('POST', '/v1/drain')));

  withOutput(withServer(program.command('status')))
    .description(
      "a node's health and readiness, the cluster's nodes (roles, health) and store members, licenses",
    )
    .action(async (opts: Opts) => {
      const call = apiClient(opts);
      const health = await call<Record<string, unknown>>('GET', '/healthz');
      const ready = await call<Record<string, unknown>>('GET', '/readyz').catch((err: Error) => ({
        status: 'not ready',
        error: err.message,
      }));
      const [cluster, { licenses }] = await Promise.all([
        call<ClusterAnswer>('GET', '/v1/cluster'),
        call<{ licenses: Static<typeof LicenseView>[] }>('GET', '/v1/licenses'),
      ]);
      show(opts, { server: apiTarget(opts).server, health, ready, cluster, licenses }, statusReport);
    });
}
