import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '@leasehold/domain';
import type { LeaseStore } from '@leasehold/store';
import { generateApiToken, hashApiToken } from '../tokens/api-token.js';

export const ADMIN_TOKEN_FILE = 'admin.token';
const BOOTSTRAP_NAME = 'bootstrap-admin';

/** Where ensureAdminToken says why it ignored a preset or file token (the node's logger). */
export interface AdminTokenLog {
  warn(obj: object, msg: string): void;
}

export interface AdminTokenResult {
  /** The token when this start created it (print it once), otherwise undefined. */
  readonly created: string | undefined;
  readonly path: string | undefined;
}

/**
 * The bootstrap admin token. A preset one (`LEASEHOLD_ADMIN_TOKEN`) wins; otherwise the token in
 * `<data-dir>/admin.token` (mode 0600) is kept; otherwise, unless the store already has a live bootstrap
 * token (made by another node of the cluster), a new one is made, written there and returned so the
 * caller prints it once. Whichever it is becomes the one live bootstrap token in the store.
 *
 * Revocation sticks (issue 11): a preset or file token whose record was revoked is never re-created — a
 * restart would otherwise undo the revocation. It is ignored with a warning while another admin token is
 * live; with none left the node refuses to start (set a new preset, or delete the file to get a new one).
 */
export async function ensureAdminToken(
  store: LeaseStore,
  dataDir: string,
  preset: string | undefined,
  clock: Clock,
  newId: () => string,
  log?: AdminTokenLog,
): Promise<AdminTokenResult> {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  let token = preset;
  let created: string | undefined;
  if (token === undefined && existsSync(path)) token = readFileSync(path, 'utf8').trim();
  if (token) {
    const record = await store.findTokenByHash(hashApiToken(token));
    if (record && record.revokedAt !== undefined) {
      const source = preset !== undefined ? 'LEASEHOLD_ADMIN_TOKEN' : path;
      const admins = (await store.listTokens()).filter(
        (t) => t.scope === 'admin' && t.revokedAt === undefined,
      );
      if (admins.length === 0) {
        throw new Error(
          `the bootstrap admin token from ${source} was revoked (token ${record.id}) and no other admin token is live: ` +
            `refusing to start without an admin path. Set a new LEASEHOLD_ADMIN_TOKEN, or remove ${path} to have a new one made`,
        );
      }
      log?.warn(
        { token: record.id, revokedAt: record.revokedAt, source },
        `ignoring the bootstrap admin token from ${source}: it was revoked, and a restart does not undo a revocation (rotate the preset)`,
      );
      return { created: undefined, path: undefined };
    }
  }
  if (!token) {
    // In a cluster another node may have made the bootstrap token already: keep it, do not rotate it away.
    const live = (await store.listTokens()).find(
      (t) => t.name === BOOTSTRAP_NAME && t.revokedAt === undefined,
    );
    if (live) return { created: undefined, path: undefined };
    token = generateApiToken('admin');
    writeFileSync(path, `${token}\n`, { mode: 0o600 });
    created = token;
  }
  await store.replaceNamedToken({
    id: newId(),
    hash: hashApiToken(token),
    scope: 'admin',
    licenseId: undefined,
    name: BOOTSTRAP_NAME,
    createdAt: clock.now(),
    revokedAt: undefined,
  });
  return { created, path: preset === undefined ? path : undefined };
}
