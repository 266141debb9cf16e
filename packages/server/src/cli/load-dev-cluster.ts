/**
 * What `leasehold dev cluster` needs of `@leasehold/devtools`: a local copy of its `DevCluster` shape, so
 * that the server has no build reference to devtools (devtools spawns the server's bin, and a reference
 * each way would be a cycle) and a production install need not carry the test harness.
 */
export interface DevClusterHandle {
  readonly etcd: { clientUrls(): string[] };
  readonly nodes: readonly { readonly name: string; readonly url: string }[];
  readonly adminToken: string;
  readonly tls:
    | { readonly caFile: string; readonly clientCertFile: string; readonly clientKeyFile: string }
    | undefined;
  stop(): Promise<void>;
}

export interface DevClusterStarter {
  start(options: {
    nodes: number;
    etcdMembers: 1 | 3 | 5;
    basePort: number;
    dataDir: string;
    vendorKeys: readonly string[];
    fresh: boolean;
    tls: boolean;
    adminToken?: string;
  }): Promise<DevClusterHandle>;
}

export const DEVTOOLS_PACKAGE = '@leasehold/devtools';

/**
 * Loads `DevCluster` from `@leasehold/devtools` at run time. The specifier is a variable so the compiler
 * does not resolve (and type) the module; the local interface above is the contract. A missing package
 * becomes an error that names it and says how to install it.
 */
export async function loadDevCluster(
  load: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<DevClusterStarter> {
  let module: unknown;
  try {
    module = await load(DEVTOOLS_PACKAGE);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    if (missing && String((err as Error).message).includes(DEVTOOLS_PACKAGE)) {
      throw new Error(
        `leasehold dev cluster needs the ${DEVTOOLS_PACKAGE} package, which is not installed: ` +
          `npm install --save-dev ${DEVTOOLS_PACKAGE}`,
        { cause: err },
      );
    }
    throw err;
  }
  const devCluster = (module as { DevCluster?: DevClusterStarter }).DevCluster;
  if (typeof devCluster?.start !== 'function') {
    throw new Error(`${DEVTOOLS_PACKAGE} does not export DevCluster: install the version of this server`);
  }
  return devCluster;
}
