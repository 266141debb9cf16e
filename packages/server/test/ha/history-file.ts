import type { Op, OpKind, Outcome } from './history.js';

/**
 * A history's operations as NDJSON (one {@link Op} per line), for a history recorded in another process:
 * the partition scenario runs in a network namespace of its own and hands its history to partition.test.ts
 * this way. Reading checks every line against the {@link Op} type, so a record the checker would misread
 * fails loudly with its line number instead.
 */
export function opsToNdjson(ops: readonly Op[]): string {
  return ops.map((op) => `${JSON.stringify(op)}\n`).join('');
}

type Primitive = 'number' | 'string' | 'boolean';
type RequiredKey = 'seq' | 'client' | 'kind' | 'node' | 'pool' | 'call' | 'ret' | 'outcome';

/** Every field of {@link Op} and its JSON type: a field added to Op does not compile until listed here. */
const FIELDS: Readonly<Record<keyof Op, Primitive>> = {
  seq: 'number',
  client: 'string',
  kind: 'string',
  node: 'string',
  pool: 'string',
  call: 'number',
  ret: 'number',
  outcome: 'string',
  status: 'number',
  code: 'string',
  retryable: 'boolean',
  error: 'string',
  requestId: 'string',
  leaseId: 'string',
  answeredId: 'string',
  state: 'string',
  expiresAt: 'number',
  reservedUntil: 'number',
  slot: 'number',
  fence: 'number',
  leaseRequestId: 'string',
  leasePool: 'string',
};
const REQUIRED: readonly RequiredKey[] = ['seq', 'client', 'kind', 'node', 'pool', 'call', 'ret', 'outcome'];
const KINDS: readonly OpKind[] = ['checkout', 'renew', 'checkin'];
const OUTCOMES: readonly Outcome[] = ['ok', 'fail', 'unknown'];

export function opsFromNdjson(text: string): Op[] {
  const ops: Op[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const where = `history line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: not JSON (${(err as Error).message})`);
    }
    ops.push(toOp(value, where));
  }
  return ops;
}

function toOp(value: unknown, where: string): Op {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${where}: not an object`);
  }
  const record = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(record)) {
    const type = (FIELDS as Readonly<Record<string, Primitive>>)[key];
    if (type === undefined) throw new Error(`${where}: unknown field ${key}`);
    if (typeof v !== type) throw new Error(`${where}: ${key} is ${typeof v}, not ${type}`);
  }
  for (const key of REQUIRED) {
    if (record[key] === undefined) throw new Error(`${where}: ${key} is missing`);
  }
  if (!KINDS.includes(record.kind as OpKind)) throw new Error(`${where}: kind ${String(record.kind)}`);
  if (!OUTCOMES.includes(record.outcome as Outcome)) {
    throw new Error(`${where}: outcome ${String(record.outcome)}`);
  }
  return record as unknown as Op;
}
