/**
 * Headers for the dashboard's page and files. The policy allows only this node's own scripts, styles and
 * connections: no inline script or style, no eval, no other origin (CSP Level 3, W3C). uPlot styles its
 * elements through the CSSOM (`el.style.x = …`), which `style-src 'self'` permits.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // Revalidate every time (cheap with the ETag): a node upgraded in place serves its new files at once.
  'cache-control': 'no-cache',
};
