import { DevtoolsError } from '../errors.js';
import type { MemberProcess } from './etcd-member.js';

/** The error for a member that exited while starting, with the end of its log. */
export async function exitedError(m: MemberProcess): Promise<DevtoolsError> {
  const exit = m.lastExit;
  const how = exit?.signal ? `signal ${exit.signal}` : `code ${exit?.code ?? 'unknown'}`;
  return new DevtoolsError(
    'ETCD_START_FAILED',
    `etcd member ${m.name} exited (${how}) while starting; from its log ${m.logFile}:\n${await m.logExcerpt()}`,
  );
}

/** Whether a member exited because one of its ports was taken (another process bound it first). */
export async function portTaken(m: MemberProcess): Promise<boolean> {
  return m.state === 'stopped' && (await m.logExcerpt()).includes('address already in use');
}

/** Whether any of the members exited because one of its ports was taken. */
export async function anyPortTaken(processes: readonly MemberProcess[]): Promise<boolean> {
  for (const m of processes) if (await portTaken(m)) return true;
  return false;
}
