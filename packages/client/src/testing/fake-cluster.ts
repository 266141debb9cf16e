import type { JSONWebKeySet, JWK } from 'jose';
import type { ClientOptions } from '../client/options.js';
import { type Clock, systemClock } from '../time/clock.js';
import type { FetchFunction } from '../transport/http-call.js';
import { type FakeLease, fakeLeaseView } from './fake-lease.js';
import { delay, hang, networkError } from './fake-network.js';
import { type FakeNode, type FakeNodeMode, type FakeRequest, Node } from './fake-node.js';
import { Problem, problem } from './fake-problem.js';
import { FakeSeats } from './fake-seats.js';
import { newKey, type SigningKey, sha256, signJws } from './fake-signing-key.js';

const YEAR_S = 365 * 86_400;

/** Options of {@link FakeCluster.start}. */
export interface FakeClusterOptions {
  /** Node count (URLs `http://node-N.leasehold.test`) or the URLs themselves. Default 3. */
  readonly nodes?: number | readonly string[];
  /** Seats per feature of the one license. Default `{ app: 1 }`. */
  readonly features?: Readonly<Record<string, number>>;
  readonly licenseId?: string;
  readonly ttlSeconds?: number;
  readonly graceSeconds?: number;
  readonly policy?: 'strict' | 'overdraft';
  /** The client token the nodes accept. */
  readonly token?: string;
  /** The cluster's wall clock (default `Date.now`); with a `ManualClock`, `() => clock.now()`. */
  readonly now?: () => number;
  /** Runs `latencyMs` (default the system clock); pass the `ManualClock` the client uses. */
  readonly clock?: Clock;
  /** The license's `product` claim. Default `'fake-product'`. */
  readonly product?: string;
  /**
   * Bind the license to clusters (issue 11): `true` binds it to this fake cluster's own id; a list binds
   * it to those ids only (another cluster's: then the SDK must refuse this cluster's tokens).
   */
  readonly bindToCluster?: boolean | readonly string[];
  /**
   * Answer `GET /v1/cluster` to the client token with the node list, as real nodes do. Default `false`:
   * 403, as older nodes answered client tokens, which keeps a test's server list fixed.
   */
  readonly listNodes?: boolean;
  /**
   * Whether nodes serve `POST /v1/leases/renew` (many leases in one call); `false` answers it 404
   * ROUTE_NOT_FOUND, as a server from before it does. Default true.
   */
  readonly batchRenewals?: boolean;
}

/**
 * An in-process Leasehold cluster behind a `fetch` function — no sockets, no processes — in the spirit of
 * undici's `MockAgent`: pass `cluster.fetch` to `createClient` and test your licensing code (checkout at
 * start, degrade on outage, lock on `lost`, release on exit) against node failures you switch on and off.
 *
 * It keeps the real API's contract for what the SDK uses: checkout idempotent by client id and request
 * id, seats per feature, renewals that never shorten a reservation, strict and overdraft grace, release,
 * operator revocation, problem+json errors with `code` and `retryable`, and EdDSA lease tokens with a
 * `kid`, served with the JWK Set (keys can be rotated). Like a real node, every grant carries the chain
 * the SDK checks (issue 11): the license, signed by the fake's own vendor key (pass `cluster.vendorKeys`
 * to `createClient`, as `clientOptions()` does), bound into the token by id, version and hash, and the
 * cluster identity key's certificate of the signing key. It is a fake: one license, no audit, no admin API.
 *
 * @example
 * ```ts
 * const cluster = await FakeCluster.start({ features: { cad: 2 }, ttlSeconds: 60, graceSeconds: 600 });
 * const client = createClient({ ...cluster.clientOptions(), clientId: 'test-machine' }); // with vendorKeys
 * const lease = await client.checkout('cad');
 * cluster.node(0).mode = 'down'; // the client fails over to another node
 * ```
 */
export class FakeCluster {
  readonly urls: readonly string[];
  readonly token: string;
  readonly licenseId: string;
  /** The fake vendor's public key (a JWK): what a product bakes in as `vendorKeys`. */
  readonly vendorKeys: JWK;
  /** This cluster's id (the RFC 7638 thumbprint of its identity key), as `leasehold cluster id` prints. */
  readonly clusterId: string;
  /** The license every grant is bound to: a JWS signed by the fake vendor. */
  readonly licenseFile: string;
  /** Every request any node received, in order (not those to `down` or `hang` nodes). */
  readonly requests: FakeRequest[] = [];
  readonly #nodes: Node[];
  readonly #features: Readonly<Record<string, number>>;
  readonly #ttlMs: number;
  readonly #graceMs: number;
  readonly #policy: 'strict' | 'overdraft';
  readonly #now: () => number;
  readonly #clock: Clock;
  readonly #listNodes: boolean;
  readonly #batchRenewals: boolean;
  readonly #seats: FakeSeats;
  #keys: SigningKey[];
  readonly #vendor = newKey();
  readonly #identity = newKey();
  readonly #product: string;

  private constructor(options: FakeClusterOptions) {
    const nodes = options.nodes ?? 3;
    this.urls = Object.freeze(
      typeof nodes === 'number'
        ? Array.from({ length: nodes }, (_, i) => `http://node-${i + 1}.leasehold.test`)
        : [...nodes],
    );
    if (this.urls.length === 0) throw new TypeError('a fake cluster needs at least one node');
    this.#nodes = this.urls.map((url) => new Node(url));
    this.token = options.token ?? 'lh_client_fake';
    this.licenseId = options.licenseId ?? 'lic-fake';
    this.#features = options.features ?? { app: 1 };
    this.#ttlMs = (options.ttlSeconds ?? 60) * 1000;
    this.#graceMs = (options.graceSeconds ?? 0) * 1000;
    this.#policy = options.policy ?? 'strict';
    this.#batchRenewals = options.batchRenewals ?? true;
    this.#now = options.now ?? Date.now;
    this.#clock = options.clock ?? systemClock;
    this.#listNodes = options.listNodes ?? false;
    this.#keys = [newKey()];
    this.#product = options.product ?? 'fake-product';
    this.#seats = new FakeSeats({
      licenseId: this.licenseId,
      features: this.#features,
      ttlMs: this.#ttlMs,
      graceMs: this.#graceMs,
      policy: this.#policy,
    });
    this.vendorKeys = Object.freeze({ ...this.#vendor.jwk });
    this.clusterId = this.#identity.kid;
    const bind = options.bindToCluster;
    this.licenseFile = this.issueLicense(
      bind === undefined || bind === false ? {} : { clusters: bind === true ? [this.clusterId] : [...bind] },
    );
  }

  /** Starts a fake cluster (synchronous work, async for symmetry with real clusters). */
  static async start(options: FakeClusterOptions = {}): Promise<FakeCluster> {
    return new FakeCluster(options);
  }

  /** `servers`, `token`, `fetch` and `vendorKeys` for `createClient`; add a `clientId` and anything else. */
  clientOptions(): Pick<ClientOptions, 'servers' | 'token' | 'fetch' | 'vendorKeys'> {
    return { servers: this.urls, token: this.token, fetch: this.fetch, vendorKeys: this.vendorKeys };
  }

  /**
   * A license for this cluster's license id signed by the fake vendor: the one grants carry, with
   * `overrides` replacing whole claims (`ver`, `features`, `product`, `exp`, `clusters`…). For tests of
   * what a client does with a chain a node got wrong (rewrite an answer's `chain.license` with it).
   */
  issueLicense(overrides: Record<string, unknown> = {}): string {
    const now = Math.floor(this.#now() / 1000);
    const features = Object.fromEntries(Object.entries(this.#features).map(([f, seats]) => [f, { seats }]));
    return signJws(
      this.#vendor,
      { typ: 'license+jwt' },
      {
        lid: this.licenseId,
        ver: 1,
        customer: 'Fake Customer',
        product: this.#product,
        features,
        // Wide dates: tests step this machine's wall clock by days; the license must not be what fails.
        iat: now,
        nbf: now - 5 * YEAR_S,
        exp: now + 50 * YEAR_S,
        lease: {
          ttl: Math.floor(this.#ttlMs / 1000),
          grace: Math.floor(this.#graceMs / 1000),
          policy: this.#policy,
        },
        ...overrides,
      },
    );
  }

  /** The identity key's certificate of signing key `key` (what real nodes send as `chain.keyCertificate`). */
  #certificate(key: SigningKey): string {
    const bare = (jwk: JWK) => ({ kty: jwk.kty, crv: jwk.crv, x: jwk.x });
    return signJws(
      this.#identity,
      { typ: 'lh-key-cert+jwt' },
      {
        iss: this.clusterId,
        sub: key.kid,
        idk: bare(this.#identity.jwk),
        cnf: { jwk: bare(key.jwk) },
        iat: Math.floor(this.#now() / 1000),
      },
    );
  }

  /** A node by index or URL. */
  node(which: number | string): FakeNode {
    const node = typeof which === 'number' ? this.#nodes[which] : this.#nodes.find((n) => n.url === which);
    if (!node) throw new TypeError(`no fake node ${String(which)}`);
    return node;
  }

  /** Sets every node's mode at once (`'hang'`: the whole cluster unreachable). */
  setAllModes(mode: FakeNodeMode): void {
    for (const node of this.#nodes) node.mode = mode;
  }

  /** The cluster's leases, oldest first. */
  leases(): FakeLease[] {
    return this.#seats.leases();
  }

  /** Seats of `feature` held now. */
  inUse(feature: string): number {
    return this.#seats.inUse(feature, this.#now());
  }

  /** An operator's force-release: renewals answer LEASE_REVOKED; the seat frees at its reservation's end. */
  revoke(leaseId: string): void {
    this.#seats.revoke(leaseId, this.#now());
  }

  /** Revokes the license: checkouts and renewals answer LICENSE_REVOKED. */
  revokeLicense(): void {
    this.#seats.revokeLicense();
  }

  /** A new cluster signing key; the JWK Set keeps the old one too, as a rotating cluster does. */
  rotateKey(): void {
    this.#keys = [newKey(), ...this.#keys];
  }

  /**
   * Signs `claims` with the cluster's current key, under a lease-token header (overridable): for tests of
   * what a client does with odd tokens (expired, for another client, with a foreign `kid`).
   */
  signToken(claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
    return signJws(this.#keys[0] as SigningKey, { typ: 'lease+jwt', ...header }, claims);
  }

  jwks(): JSONWebKeySet {
    return { keys: this.#keys.map((k) => ({ ...k.jwk })) };
  }

  /** The `fetch` to give the client. */
  readonly fetch: FetchFunction = async (url, init) => {
    const node = this.#nodes.find((n) => url.startsWith(n.url));
    if (!node) throw networkError('ENOTFOUND');
    if (node.mode === 'down') throw networkError('ECONNREFUSED');
    if (node.mode === 'hang') return hang(init.signal);
    if (node.latencyMs > 0) await delay(this.#clock, node.latencyMs, init.signal);
    init.signal?.throwIfAborted();
    const path = new URL(url).pathname.slice(new URL(node.url).pathname.replace(/\/$/, '').length);
    const body =
      typeof init.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    const method = init.method ?? 'GET';
    const request = { node: node.url, method, path, body };
    this.requests.push(request);
    const headers = new Headers(init.headers);
    let answer: { status: number; body: Record<string, unknown> };
    if (node.failures && node.failures.times > 0) {
      node.failures.times--;
      answer = problem(new Problem(node.failures.code));
    } else {
      try {
        answer = this.#route(method, path, body, headers.get('authorization'), this.#nodeId(node));
      } catch (err) {
        if (!(err instanceof Problem)) throw err;
        answer = problem(err);
      }
    }
    if (node.mode === 'drop-response' || node.dropAnswerIf?.(request)) throw networkError('ECONNRESET');
    const sent = node.rewriteAnswer ? node.rewriteAnswer(answer.body) : answer.body;
    const type = answer.status >= 400 ? 'application/problem+json' : 'application/json';
    return new Response(JSON.stringify(sent), { status: answer.status, headers: { 'content-type': type } });
  };

  #route(
    method: string,
    path: string,
    body: Record<string, unknown> | undefined,
    authorization: string | null,
    nodeId: string,
  ): { status: number; body: Record<string, unknown> } {
    if (method === 'GET' && path === '/readyz')
      return { status: 200, body: { status: 'ready', store: 'fake' } };
    if (method === 'GET' && path === '/.well-known/jwks.json') {
      return { status: 200, body: this.jwks() as unknown as Record<string, unknown> };
    }
    if (authorization !== `Bearer ${this.token}`) throw new Problem('UNAUTHENTICATED');
    if (method === 'GET' && path === '/v1/cluster') {
      if (!this.#listNodes) throw new Problem('FORBIDDEN');
      return {
        status: 200,
        body: {
          nodes: this.#nodes.map((n) => ({ id: this.#nodeId(n), url: n.url, healthy: n.mode === 'up' })),
        },
      };
    }
    if (method === 'POST' && path === '/v1/leases') return this.#checkout(body ?? {}, nodeId);
    if (method === 'POST' && path === '/v1/leases/renew' && this.#batchRenewals) return this.#renewMany(body);
    const match = /^\/v1\/leases\/([^/]+)(\/renew)?$/.exec(path);
    if (match) {
      const id = decodeURIComponent(match[1] as string);
      if (method === 'POST' && match[2]) return this.#renew(id);
      if (method === 'DELETE' && !match[2]) return this.#release(id);
      if (method === 'GET' && !match[2])
        return {
          status: 200,
          body: fakeLeaseView(this.#seats.get(id), this.licenseId, this.#graceMs, this.#now()),
        };
    }
    throw new Problem('ROUTE_NOT_FOUND');
  }

  /** A node's id as `/v1/cluster` names it. */
  #nodeId(node: Node): string {
    return `node-${this.#nodes.indexOf(node) + 1}`;
  }

  #checkout(
    body: Record<string, unknown>,
    nodeId: string,
  ): { status: number; body: Record<string, unknown> } {
    const now = this.#now();
    const { status, lease } = this.#seats.checkout(body, nodeId, now);
    return { status, body: this.#withToken(lease, now) };
  }

  #renew(id: string): { status: number; body: Record<string, unknown> } {
    const now = this.#now();
    return { status: 200, body: this.#withToken(this.#seats.renew(id, now), now) };
  }

  /** Many renewals in one call: each lease's answer its own, as the real route gives them. */
  #renewMany(body: Record<string, unknown> | undefined): { status: number; body: Record<string, unknown> } {
    const leases = body?.leases;
    if (!Array.isArray(leases) || leases.length === 0 || leases.length > 100)
      throw new Problem('VALIDATION_FAILED');
    const ids = leases.map((l) => (l as { id?: unknown }).id);
    if (ids.some((id) => typeof id !== 'string') || new Set(ids).size !== ids.length) {
      throw new Problem('VALIDATION_FAILED');
    }
    const results = (ids as string[]).map((id) => {
      try {
        return { id, lease: this.#renew(id).body };
      } catch (err) {
        if (!(err instanceof Problem)) throw err;
        return { id, problem: problem(err).body };
      }
    });
    return { status: 200, body: { results } };
  }

  #release(id: string): { status: number; body: Record<string, unknown> } {
    const now = this.#now();
    return {
      status: 200,
      body: fakeLeaseView(this.#seats.release(id, now), this.licenseId, this.#graceMs, now),
    };
  }

  #withToken(lease: FakeLease, now: number): Record<string, unknown> {
    const token = this.signToken({
      iss: 'leasehold',
      sub: lease.clientId,
      jti: lease.id,
      lic: this.licenseId,
      feat: lease.feature,
      lver: 1,
      lhash: sha256(this.licenseFile),
      fence: lease.fence,
      slot: lease.slot,
      grace: Math.floor(this.#graceMs / 1000),
      iat: Math.floor(now / 1000),
      exp: Math.floor(lease.expiresAt / 1000),
    });
    const chain = {
      license: this.licenseFile,
      keyCertificate: this.#certificate(this.#keys[0] as SigningKey),
    };
    return { ...fakeLeaseView(lease, this.licenseId, this.#graceMs, now), epoch: 1, token, chain };
  }
}
