/**
 * A server's base URL in the one form the transport uses: http(s), no credentials, query or fragment,
 * ending in `/` so that relative API paths resolve under it (a node may sit behind a path prefix).
 * Throws `TypeError`: a bad URL is a mistake in the caller's configuration.
 */
export function normalizeServerUrl(server: unknown): string {
  if (typeof server !== 'string' || server.trim() === '') {
    throw new TypeError('a server must be a non-empty URL string such as "https://license.example.com"');
  }
  let url: URL;
  try {
    url = new URL(server.trim());
  } catch {
    throw new TypeError(`server "${server}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`server "${server}" must use http: or https:`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new TypeError(`server "${server}" must not carry credentials, a query or a fragment`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}
