/**
 * Where each record lives in etcd. Every component is URI-encoded, so ids containing "/" cannot reach
 * into another record's range. Slot numbers are zero-padded so that a prefix range lists them in order.
 *
 *   {p}licenses/{id}                    InstalledLicense (JSON)
 *   {p}license-rev                      touched by every install and revoke: one key to compare
 *   {p}slots/{license}/{feature}/{slot} the id of the lease holding the slot
 *   {p}leases/{id}                      Lease (JSON, without fence: the fence is this key's create revision)
 *   {p}requests/{client}/{request}/{license}  the lease id a checkout request granted under that license
 *   {p}by-deadline/{ms}/{lease}         the lease's slot key, for each lease holding a seat, under its
 *                                       reservedUntil (zero-padded): the sweeper's, live listings' and seat
 *                                       usage's index (entries written before seat usage read it hold the
 *                                       lease id; the id is always the key's last part)
 *   {p}by-end/{ms}/{lease}              the lease id, for each ended lease, under its endedAt: purge's index
 *   {p}schema/deadline-index            set once the indexes cover leases written before they existed
 *   {p}signing-keys/{kid}               StoredSigningKey (JSON)
 *   {p}cluster-identity                 the cluster identity key, a StoredSigningKey (JSON); never replaced
 *   {p}tokens/{id}                      the token's hash
 *   {p}token-hash/{hash}                ApiTokenRecord (JSON)
 *   {p}audit/pending/{id}               an AuditEvent written with its change, not yet sealed
 *   {p}audit/log/{seq}                  AuditEntry (JSON), seq zero-padded; {p}audit/head {seq, hash}
 *   {p}audit/anchor                     {seq, hash} of the last archived entry; audit/checkpoints/{seq}
 *   {p}data-key                         the data key wrapped under the KEK (WrappedDataKey JSON)
 *   {p}schema                           {version, by}: the layout's version (etcd-schema.ts); absent = 0
 *   {p}schema-migration                 the migration lock, bound to the migrator's etcd lease
 *   {p}epoch                            the fencing epoch (EpochState JSON); absent = epoch 1
 *   {p}clock-margin                     the cluster's clock margin, ms: the widest any node was configured
 *                                       with (raised by nodes, lowered only by an operator; docs/ha.md)
 */
export class Keyspace {
  constructor(readonly prefix: string) {
    if (!prefix.endsWith('/')) throw new TypeError('an etcd key prefix ends with "/"');
  }

  license = (id: string) => `${this.prefix}licenses/${enc(id)}`;
  licenses = () => `${this.prefix}licenses/`;
  licenseRev = () => `${this.prefix}license-rev`;
  pool = (licenseId: string, feature: string) => `${this.prefix}slots/${enc(licenseId)}/${enc(feature)}/`;
  slot = (licenseId: string, feature: string, slot: number) =>
    `${this.pool(licenseId, feature)}${String(slot).padStart(7, '0')}`;
  slots = () => `${this.prefix}slots/`;
  lease = (id: string) => `${this.prefix}leases/${enc(id)}`;
  leases = () => `${this.prefix}leases/`;
  /** Idempotency keys are per license (issue 11): a request id used under one license is new to another. */
  request = (clientId: string, requestId: string, licenseId: string) =>
    `${this.requests(clientId, requestId)}${enc(licenseId)}`;
  /** Every license's key of one (client, request id): what a checkout that names no license looks at. */
  requests = (clientId: string, requestId: string) =>
    `${this.prefix}requests/${enc(clientId)}/${enc(requestId)}/`;
  /** Where versions before per-license request keys kept them; purge deletes them with their lease. */
  legacyRequest = (clientId: string, requestId: string) =>
    `${this.prefix}requests/${enc(clientId)}/${enc(requestId)}`;
  /** Written in the transaction that grants, renews (to a later deadline) or ends the lease. */
  deadline = (reservedUntil: number, leaseId: string) =>
    `${this.deadlines()}${ms(reservedUntil)}/${enc(leaseId)}`;
  deadlines = () => `${this.prefix}by-deadline/`;
  /** The lease id of a `by-deadline/` (or `by-end/`) entry: its key's last part. */
  indexedLeaseId = (entryKey: string) => decodeURIComponent(entryKey.slice(entryKey.lastIndexOf('/') + 1));
  /** The first index key after every deadline up to and including `at`. */
  deadlinesThrough = (at: number) => `${this.deadlines()}${ms(at + 1)}`;
  /** Written in the transaction that ends the lease; purge deletes it with the lease. */
  ended = (endedAt: number, leaseId: string) => `${this.endings()}${ms(endedAt)}/${enc(leaseId)}`;
  endings = () => `${this.prefix}by-end/`;
  /** The first index key after every end before `at`. */
  endedBefore = (at: number) => `${this.endings()}${ms(at)}`;
  /** The key after every key of `prefix` (a prefix ends with "/", the next character is "0"). */
  static rangeEnd = (prefix: string) => `${prefix.slice(0, -1)}0`;
  deadlineIndexReady = () => `${this.prefix}schema/deadline-index`;
  signingKey = (kid: string) => `${this.prefix}signing-keys/${enc(kid)}`;
  signingKeys = () => `${this.prefix}signing-keys/`;
  clusterIdentity = () => `${this.prefix}cluster-identity`;
  token = (id: string) => `${this.prefix}tokens/${enc(id)}`;
  tokenHash = (hash: string) => `${this.prefix}token-hash/${enc(hash)}`;
  tokenHashes = () => `${this.prefix}token-hash/`;
  dataKey = () => `${this.prefix}data-key`;
  schema = () => `${this.prefix}schema`;
  schemaLock = () => `${this.prefix}schema-migration`;
  /** The fencing epoch (docs/replication.md, "Promotion"). */
  epoch = () => `${this.prefix}epoch`;
  /** The cluster's clock margin (membership.ts `clockMargin`). */
  clockMargin = () => `${this.prefix}clock-margin`;
  /** Node membership and elections (see membership). */
  node = (id: string) => `${this.prefix}nodes/${enc(id)}`;
  nodes = () => `${this.prefix}nodes/`;
  election = (name: string) => `${this.prefix}elections/${enc(name)}/`;
  /** The audit trail (docs/audit.md): pending records, the sealed chain, its head and anchor, checkpoints. */
  auditPending = () => `${this.prefix}audit/pending/`;
  auditPendingRecord = (id: string) => `${this.auditPending()}${enc(id)}`;
  auditLog = () => `${this.prefix}audit/log/`;
  auditEntry = (seq: number) => `${this.auditLog()}${String(seq).padStart(15, '0')}`;
  auditHead = () => `${this.prefix}audit/head`;
  auditAnchor = () => `${this.prefix}audit/anchor`;
  auditCheckpoints = () => `${this.prefix}audit/checkpoints/`;
  auditCheckpoint = (seq: number) => `${this.auditCheckpoints()}${String(seq).padStart(15, '0')}`;

  /** The slot number at the end of a slot key. */
  slotOf(key: string): number {
    return Number(key.slice(key.lastIndexOf('/') + 1));
  }
}

const enc = (component: string) => encodeURIComponent(component);
/** Milliseconds since the epoch, zero-padded so that key order is time order (15 digits: year 33658). */
const ms = (at: number) => String(Math.max(0, Math.trunc(at))).padStart(15, '0');
