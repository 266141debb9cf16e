// The baseline for bench/embedded.mjs: a hello-world Fastify server with nothing else in it (no logger,
// no auth, no schema, no store). Run as a child process: `node bench/bare-fastify.mjs <port>`.
// Fastify is resolved from packages/server, so the baseline is the same Fastify the node runs on.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../packages/server/package.json', import.meta.url));
const Fastify = require('fastify');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: node bench/bare-fastify.mjs <port>\n');
  process.exit(2);
}

const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));

const stop = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

await app.listen({ host: '127.0.0.1', port });
