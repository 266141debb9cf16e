import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerAudit } from './audit-command.js';
import { registerCerts } from './certs-command.js';
import { registerDev } from './dev-command.js';
import { registerKek } from './kek-command.js';
import { registerKeys } from './keys-command.js';
import { issueLicenseFile } from './license-issue.js';
import { registerServe } from './serve-command.js';
import { registerServerCommands } from './server-commands.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function buildProgram(): Command {
  const program = new Command('leasehold')
    .description('Leasehold: high-availability floating-license server')
    .version(VERSION)
    .showHelpAfterError();

  registerServe(program);
  registerKeys(program);

  const license = program.command('license').description('license files');
  license
    .command('issue')
    .description('sign a license file with a vendor key (JWS, EdDSA)')
    .requiredOption('-k, --key <file>', 'vendor private key (PKCS#8 PEM)')
    .requiredOption('--customer <name>')
    .requiredOption('--product <name>')
    .requiredOption('-f, --feature <name=seats>', 'a floating feature and its seats; repeatable', collect, [])
    .requiredOption('--expires <date>', 'YYYY-MM-DD (midnight UTC) or RFC 3339')
    .option('--not-before <date>', 'start of validity (default: now)')
    .option('--lease-ttl <duration>', 'lease time-to-live, whole seconds (default 60s)')
    .option('--grace <duration>', 'offline grace after a lease token expires (default 0s)')
    .option('--policy <policy>', 'strict (seat kept through grace) | overdraft (freed at expiry)')
    .option('--id <id>', 'license id (default: a new UUID); re-issue with the same id and a higher --version')
    .option('--version <n>', 'license version (default 1)')
    .option('--issuer <name>', 'vendor name (iss)')
    .option('--encrypt-to <file>', "customer's X25519 public key: wrap the license in a JWE (A256GCM)")
    .option(
      '--bind-cluster <id>',
      'bind to a cluster (the id "leasehold cluster id" prints there); repeatable',
      collect,
      [],
    )
    .requiredOption('-o, --out <file>', 'where to write the license file')
    .action(async (opts) => {
      const id = await issueLicenseFile(opts, Date.now());
      process.stdout.write(`${opts.out}: license ${id}\n`);
    });

  registerServerCommands(program, license);
  registerDev(program);
  registerKek(program);
  registerCerts(program);
  registerAudit(program);
  return program;
}
