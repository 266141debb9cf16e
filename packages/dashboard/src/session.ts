/**
 * The signed-in token lives in sessionStorage: it survives a reload but not the tab, and no other site
 * can read it. Signing out forgets it.
 */
const KEY = 'leasehold.token';

export function savedToken(): string | undefined {
  return sessionStorage.getItem(KEY) ?? undefined;
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
