// The essential-work baseline for bench/embedded.mjs and bench/scale.mjs: the least a license server must
// do per checkout or renewal, and nothing else. A bare Fastify route that parses the same JSON body, makes
// one durable SQLite write with better-sqlite3 (WAL, synchronous=NORMAL: the CPU floor, no per-commit
// fsync) into a table shaped like Leasehold's leases table, and signs an Ed25519 lease token of the same
// kind (compact JWS, EdDSA) with node:crypto. No auth, no schema validation, no seat accounting, no audit,
// no metrics, no logger. Run as a child process:
//
//   node bench/essential-work.mjs <port> <data dir> <renewal pool size>
//
// At start it inserts <renewal pool size> leases and writes their ids, one a line, to <data dir>/renew-ids.txt
// for the renewal load (bench/wrk/renew.lua). Routes:
//   POST /checkout          {feature, client: {id, host}, requestId} -> 201 {id, token}   (an INSERT)
//   POST /renew/:id         -> 200 {id, token} or 404                                     (an UPDATE)
//   DELETE /lease/:id       -> 200 {id} or 404 (a DELETE; the release half of bench/scale.mjs's cycles)
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// The node's own copies: the baseline runs on the same Fastify and better-sqlite3 as Leasehold.
const serverRequire = createRequire(new URL('../packages/server/package.json', import.meta.url));
const storeRequire = createRequire(new URL('../packages/store/package.json', import.meta.url));
const Fastify = serverRequire('fastify');
const Database = storeRequire('better-sqlite3');

const [portArg, dir, poolArg] = process.argv.slice(2);
const port = Number(portArg);
const poolSize = Number(poolArg ?? 0);
if (!Number.isInteger(port) || port <= 0 || !dir || !Number.isInteger(poolSize)) {
  process.stderr.write('usage: node bench/essential-work.mjs <port> <data dir> <renewal pool size>\n');
  process.exit(2);
}

const TTL_MS = 3_600_000;
const db = new Database(join(dir, 'essential.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
// The columns of Leasehold's leases table, with the indexes any lease store needs: the id, the
// idempotency key and the expiry deadline.
db.exec(`
  CREATE TABLE leases (
    id TEXT PRIMARY KEY, license_id TEXT NOT NULL, feature TEXT NOT NULL, slot INTEGER NOT NULL,
    fence INTEGER NOT NULL, client_id TEXT NOT NULL, client_host TEXT, request_id TEXT NOT NULL,
    created_at INTEGER NOT NULL, renewed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    reserved_until INTEGER NOT NULL, grace_ms INTEGER NOT NULL
  ) STRICT;
  CREATE UNIQUE INDEX leases_request ON leases(client_id, request_id);
  CREATE INDEX leases_deadline ON leases(reserved_until);
`);
const insert = db.prepare(
  `INSERT INTO leases VALUES (@id, 'bench', @feature, @slot, @slot, @clientId, @clientHost, @requestId,
   @now, @now, @expires, @expires, 0)`,
);
const release = db.prepare('DELETE FROM leases WHERE id = ?');
const renew = db.prepare('UPDATE leases SET renewed_at = ?, expires_at = ?, reserved_until = ? WHERE id = ?');

const { privateKey } = generateKeyPairSync('ed25519');
const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'bench-1', typ: 'lease+jwt' })).toString(
  'base64url',
);
function leaseToken(id, feature, fence, now) {
  const payload = Buffer.from(
    JSON.stringify({
      iss: 'leasehold',
      sub: 'bench',
      jti: id,
      lic: 'bench',
      feat: feature,
      fence,
      slot: fence,
      grace: 0,
      iat: Math.floor(now / 1000),
      exp: Math.floor((now + TTL_MS) / 1000),
    }),
  ).toString('base64url');
  const input = `${header}.${payload}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
}

let fence = 0;
function checkout({ feature, client, requestId }) {
  const now = Date.now();
  const id = randomUUID();
  fence += 1;
  insert.run({
    id,
    feature,
    slot: fence,
    clientId: client.id,
    clientHost: client.host ?? null,
    requestId,
    now,
    expires: now + TTL_MS,
  });
  return { id, token: leaseToken(id, feature, fence, now) };
}

const ids = [];
for (let i = 0; i < poolSize; i++) {
  ids.push(checkout({ feature: 'renew', client: { id: `seed-${i}` }, requestId: `seed-${i}` }).id);
}
writeFileSync(join(dir, 'renew-ids.txt'), `${ids.join('\n')}\n`);

const app = Fastify({ logger: false });
app.post('/checkout', async (req, reply) => {
  reply.code(201);
  return checkout(req.body);
});
app.post('/renew/:id', async (req, reply) => {
  const now = Date.now();
  const { id } = req.params;
  if (renew.run(now, now + TTL_MS, now + TTL_MS, id).changes === 0) {
    reply.code(404);
    return { code: 'lease_not_found' };
  }
  return { id, token: leaseToken(id, 'renew', 1, now) };
});

app.delete('/lease/:id', async (req, reply) => {
  if (release.run(req.params.id).changes === 0) {
    reply.code(404);
    return { code: 'lease_not_found' };
  }
  return { id: req.params.id };
});

const stop = () => {
  app.close().then(
    () => {
      db.close();
      process.exit(0);
    },
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

await app.listen({ host: '127.0.0.1', port });
