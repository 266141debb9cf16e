import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairPems } from '@leasehold/domain';
import type { Command } from 'commander';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('vendor and customer keys');
  keys
    .command('generate')
    .description('make a key pair: vendor (Ed25519, signs licenses) or customer (X25519, decrypts them)')
    .requiredOption('-o, --out <dir>', 'directory to write the keys to')
    .option('--kind <kind>', 'vendor | customer', 'vendor')
    .action((opts: { out: string; kind: string }) =>
      generate(opts.out, opts.kind).then((written) => {
        for (const file of written) process.stdout.write(`${file}\n`);
      }),
    );
}

async function generate(dir: string, kind: string): Promise<string[]> {
  if (kind !== 'vendor' && kind !== 'customer')
    throw new Error(`--kind must be vendor or customer, not "${kind}"`);
  const pair = await generateKeyPairPems(kind === 'vendor' ? 'sig' : 'enc');
  mkdirSync(dir, { recursive: true });
  const files = {
    [join(dir, `${kind}.key.pem`)]: { text: pair.privatePem, mode: 0o600 },
    [join(dir, `${kind}.pub.pem`)]: { text: pair.publicPem, mode: 0o644 },
    [join(dir, `${kind}.jwk.json`)]: { text: `${JSON.stringify(pair.publicJwk, null, 2)}\n`, mode: 0o644 },
  };
  for (const [path, { text, mode }] of Object.entries(files)) {
    // `wx`: never overwrite a key — losing a vendor key orphans every license it signed.
    writeFileSync(path, text, { mode, flag: 'wx' });
  }
  return Object.keys(files);
}
