import { describe, expect, it } from 'vitest';
import { loadDevCluster } from '../src/cli/load-dev-cluster.js';

/** `leasehold dev cluster` loads @leasehold/devtools at run time; without it, the error says what to install. */
describe('leasehold dev cluster: loading devtools', () => {
  it('finds DevCluster in the installed @leasehold/devtools', async () => {
    const devCluster = await loadDevCluster();
    expect(typeof devCluster.start).toBe('function');
  });

  it('names the package and how to install it when it is missing', async () => {
    const missing = async (specifier: string) => {
      throw Object.assign(new Error(`Cannot find package '${specifier}' imported from /x`), {
        code: 'ERR_MODULE_NOT_FOUND',
      });
    };
    await expect(loadDevCluster(missing)).rejects.toThrow(
      /needs the @leasehold\/devtools package, which is not installed: npm install --save-dev @leasehold\/devtools/,
    );
  });

  it('passes on other load failures as they are, and refuses a devtools without DevCluster', async () => {
    const broken = async () => {
      throw Object.assign(new Error("Cannot find package 'reflect-metadata'"), {
        code: 'ERR_MODULE_NOT_FOUND',
      });
    };
    await expect(loadDevCluster(broken)).rejects.toThrow("Cannot find package 'reflect-metadata'");
    await expect(loadDevCluster(async () => ({}))).rejects.toThrow(/does not export DevCluster/);
  });
});
