import { ApiProblem, api } from './api.js';
import { byId, formatTime, h, replaceChildren } from './dom.js';

interface AuditEvent {
  readonly seq: number;
  readonly time: string;
  readonly node: string;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly details?: unknown;
}

interface AuditPage {
  readonly events: readonly AuditEvent[];
  readonly head?: { readonly seq: number; readonly hash: string };
  readonly unsealed?: number;
}

/**
 * The latest audit events, newest first; "not available" on a node without the audit API. Resolves to
 * the number of records written but not sealed yet (not listed until sealed), 0 when unknown.
 */
export async function refreshAudit(token: string, signal: AbortSignal): Promise<number> {
  const status = byId('audit-status');
  try {
    const page = await api<AuditPage>(token, 'GET', '/v1/audit/events?limit=50', undefined, signal);
    if (signal.aborted) return 0;
    const events = [...page.events].sort((a, b) => b.seq - a.seq);
    replaceChildren(
      byId('audit-body'),
      events.length > 0
        ? events.map((e) =>
            h(
              'tr',
              { 'data-seq': e.seq },
              h('td', { class: 'num' }, e.seq),
              h('td', {}, formatTime(e.time)),
              h('td', {}, e.node),
              h('td', {}, e.actor),
              h('td', {}, e.action),
              h('td', { class: 'mono' }, e.subject),
            ),
          )
        : [h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'no events yet'))],
    );
    status.textContent = page.head
      ? `head #${page.head.seq} · ${page.head.hash.slice(0, 12)}…${page.unsealed ? ` · ${page.unsealed} not yet sealed` : ''}`
      : '';
    status.dataset.available = 'true';
    return page.unsealed ?? 0;
  } catch (err) {
    if (signal.aborted) return 0;
    status.dataset.available = 'false';
    replaceChildren(byId('audit-body'), []);
    status.textContent =
      err instanceof ApiProblem && (err.code === 'ROUTE_NOT_FOUND' || err.status === 404)
        ? 'audit not available on this node'
        : `audit not available: ${err instanceof ApiProblem ? err.code : String(err)}`;
    return 0;
  }
}
