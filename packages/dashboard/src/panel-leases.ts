import { ApiProblem, api } from './api.js';
import { byId, formatTime, h, replaceChildren } from './dom.js';

/** Rows a page of the table shows; "Next page" follows the API's cursor (`next`) to the one after. */
const LIST_LIMIT = 500;

interface LeaseView {
  readonly id: string;
  readonly license: string;
  readonly feature: string;
  readonly state: 'active' | 'expired' | 'released' | 'revoked';
  readonly slot: number;
  readonly client: { readonly id: string; readonly hostname?: string };
  readonly renewedAt: string;
  readonly expiresAt: string;
  readonly reservedUntil: string;
}

/**
 * The leases holding seats now, with force-release for the tokens the server lets do it. A force-release stops renewals; by default
 * the seat frees when the last token handed out runs out (no two valid tokens for one seat), and
 * "free the seat at once" asks for `immediate` — the operator's call, documented in docs/dashboard.md.
 */
export class LeasesPanel {
  #loading: Promise<void> | undefined;
  #again = false;
  /** The cursor the page on show starts after (undefined: the first page), and the next page's. */
  #after: string | undefined;
  #next: string | undefined;

  /** `signal` aborts with the session: a late answer must not paint a signed-out or newer session. */
  constructor(
    private readonly token: string,
    private readonly canRelease: boolean,
    private readonly signal: AbortSignal,
  ) {
    byId('leases-immediate-label').hidden = !canRelease;
    byId('leases-next').addEventListener('click', () => this.#turn(this.#next));
    byId('leases-first').addEventListener('click', () => this.#turn(undefined));
  }

  /** Shows the page after `cursor` (undefined: the first), and keeps it on refreshes. */
  #turn(cursor: string | undefined): void {
    this.#after = cursor;
    this.refresh();
  }

  /** Reloads the table; calls during a reload coalesce into one more. */
  refresh(): void {
    if (this.#loading) {
      this.#again = true;
      return;
    }
    this.#loading = this.#load().finally(() => {
      this.#loading = undefined;
      if (this.#again) {
        this.#again = false;
        this.refresh();
      }
    });
  }

  async #load(): Promise<void> {
    const status = byId('leases-status');
    try {
      const after = this.#after === undefined ? '' : `&after=${encodeURIComponent(this.#after)}`;
      const { leases, next } = await api<{ leases: LeaseView[]; next?: string }>(
        this.token,
        'GET',
        `/v1/leases?limit=${LIST_LIMIT}${after}`,
        undefined,
        this.signal,
      );
      if (this.signal.aborted) return;
      if (leases.length === 0 && this.#after !== undefined) {
        // The page on show emptied (its leases ended): back to the first.
        this.#turn(undefined);
        return;
      }
      this.#next = next;
      byId('leases-next').hidden = next === undefined;
      byId('leases-first').hidden = this.#after === undefined;
      replaceChildren(
        byId('leases-body'),
        leases.length > 0
          ? leases.map((l) => this.#row(l))
          : [h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'no seats held'))],
      );
      const count = `${leases.length} lease${leases.length === 1 ? '' : 's'} holding seats`;
      status.textContent =
        next === undefined && this.#after === undefined ? count : `${count} on this page, by deadline`;
    } catch (err) {
      if (this.signal.aborted) return;
      status.textContent =
        err instanceof ApiProblem && err.code === 'FORBIDDEN'
          ? 'this token may not list leases'
          : `leases unavailable: ${err instanceof ApiProblem ? err.code : String(err)}`;
    }
  }

  #row(lease: LeaseView): HTMLTableRowElement {
    const button = this.canRelease
      ? h('button', { type: 'button', class: 'danger', 'data-action': 'force-release' }, 'Force-release')
      : null;
    button?.addEventListener('click', () => void this.#forceRelease(lease, button));
    return h(
      'tr',
      { 'data-lease': lease.id, 'data-state': lease.state },
      h('td', { class: 'mono', title: lease.id }, lease.id.slice(0, 8)),
      h('td', {}, lease.license),
      h('td', {}, lease.feature),
      h('td', {}, lease.client.id, lease.client.hostname ? ` (${lease.client.hostname})` : ''),
      h('td', {}, lease.slot),
      h('td', { class: `lease-${lease.state}` }, lease.state),
      h(
        'td',
        {},
        lease.state === 'revoked'
          ? `seat frees ${formatTime(lease.reservedUntil)}`
          : formatTime(lease.expiresAt),
      ),
      h('td', {}, lease.state === 'active' ? button : null),
    );
  }

  async #forceRelease(lease: LeaseView, button: HTMLButtonElement): Promise<void> {
    const immediate = byId<HTMLInputElement>('leases-immediate').checked;
    button.disabled = true;
    const status = byId('leases-status');
    try {
      await api(this.token, 'POST', `/v1/leases/${encodeURIComponent(lease.id)}/force-release`, {
        immediate,
      });
      status.textContent = `lease ${lease.id.slice(0, 8)} force-released${immediate ? '; its seat is free' : ''}`;
    } catch (err) {
      status.textContent = `force-release failed: ${err instanceof ApiProblem ? `${err.code} — ${err.message}` : String(err)}`;
      button.disabled = false;
    }
    this.refresh();
  }
}
