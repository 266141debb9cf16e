/** Throws a `TypeError` unless `leaseId` is a non-empty string. */
export function checkLeaseId(leaseId: string): void {
  if (typeof leaseId !== 'string' || leaseId === '')
    throw new TypeError('leaseId must be a non-empty string');
}

/**
 * The API path of one lease (and `action`, e.g. `/renew`), its id checked and escaped, naming the client id
 * this SDK acts as: a node lets only the client a lease was granted to renew or release it (issue 11).
 */
export function leasePath(leaseId: string, clientId: string, action = ''): string {
  checkLeaseId(leaseId);
  return `v1/leases/${encodeURIComponent(leaseId)}${action}?client=${encodeURIComponent(clientId)}`;
}
