/** Throws a `TypeError` unless `leaseId` is a non-empty string. */
export function checkLeaseId(leaseId: string): void {
  if (typeof leaseId !== 'string' || leaseId === '')
    throw new TypeError('leaseId must be a non-empty string');
}

/** The API path of one lease, its id checked and escaped. */
export function leasePath(leaseId: string): string {
  checkLeaseId(leaseId);
  return `v1/leases/${encodeURIComponent(leaseId)}`;
}
