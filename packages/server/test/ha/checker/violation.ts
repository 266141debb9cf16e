import type { Op } from '../history.js';

/** The rules the fault run's checker enforces (the checker.ts overview says what each means). */
export type Rule = 'oversubscribed' | 'slot-shared' | 'lease-lost' | 'duplicate-lease' | 'malformed';

export interface Violation {
  readonly rule: Rule;
  readonly message: string;
  /** The operations that show it (an excerpt of the history). */
  readonly ops: readonly Op[];
}
