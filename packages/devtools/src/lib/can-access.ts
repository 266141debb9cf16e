import { access } from 'node:fs/promises';

/**
 * Whether `path` exists or, with a `mode` such as `constants.X_OK`, allows that access: `fs.access` as an
 * answer instead of a throw.
 */
export async function canAccess(path: string, mode?: number): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}
