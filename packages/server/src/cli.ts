import { LeaseholdError } from '@leasehold/domain';
import { ApiError } from './cli/api-client.js';
import { buildProgram } from './cli/program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof ApiError || err instanceof LeaseholdError) {
      process.stderr.write(`leasehold: ${err.code}: ${err.message}\n`);
    } else {
      process.stderr.write(`leasehold: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exitCode = 1;
  });
