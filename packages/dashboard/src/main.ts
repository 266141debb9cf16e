import { ApiProblem, readEventStream } from './api.js';
import { byId } from './dom.js';
import { refreshAudit } from './panel-audit.js';
import { ChartsPanel } from './panel-charts.js';
import { LeasesPanel } from './panel-leases.js';
import { NodesPanel, renderStoreMembers } from './panel-nodes.js';
import { refreshReplication } from './panel-replication.js';
import { renderUsage, usageSignature } from './panel-usage.js';
import { forgetToken, savedToken, saveToken } from './session.js';
import type { Hello, Snapshot } from './snapshot.js';

/** Heartbeat ages tick this often between snapshots. */
const TICK_MS = 200;
/** Leases and audit events are read over plain GETs this often (and whenever seat counts change). */
const POLL_MS = 5000;
/** Replicas and edges (lags, last contact, block countdowns) are read this often. */
const REPLICATION_POLL_MS = 2000;
/**
 * Audit records show once sealed, and the elected node seals every second (auditSealIntervalMs): while a
 * read reports unsealed records, read again this long after it instead of at the next poll.
 */
const SEAL_FOLLOW_UP_MS = 1500;
/** No snapshot for this long: the stream is presumed dead and reopened. */
const STALE_MS = 4000;

interface Session {
  readonly abort: AbortController;
  readonly timers: number[];
  readonly nodes: NodesPanel;
}

let session: Session | undefined;
let activeCharts: ChartsPanel | undefined;

function setConnection(state: 'live' | 'connecting' | 'lost', text: string): void {
  const el = byId('connection');
  el.dataset.state = state;
  el.textContent = text;
}

function showSignIn(message = ''): void {
  byId('dashboard').hidden = true;
  byId('sign-out').hidden = true;
  byId('sign-in').hidden = false;
  byId('sign-in-error').textContent = message;
  byId('whoami').textContent = '';
  setConnection('lost', 'signed out');
}

/** Ends the session and wipes what it showed: the next sign-in (perhaps another role) starts blank. */
function stop(): void {
  session?.abort.abort();
  for (const t of session?.timers ?? []) clearInterval(t);
  session?.nodes.dispose();
  session = undefined;
  for (const id of [
    'nodes-body',
    'members-body',
    'usage-list',
    'leases-body',
    'audit-body',
    'followers-body',
    'site-blocks-body',
  ]) {
    byId(id).replaceChildren();
  }
  for (const id of [
    'nodes-summary',
    'members-summary',
    'leases-status',
    'audit-status',
    'charts-latest',
    'replication-summary',
    'replication-upstream',
  ]) {
    const el = byId(id);
    el.textContent = '';
    for (const key of Object.keys(el.dataset)) delete el.dataset[key];
  }
  byId('problems').textContent = '';
  byId('site-blocks').hidden = true;
  byId('replication-upstream').hidden = true;
}

function signOut(message = ''): void {
  stop();
  forgetToken();
  showSignIn(message);
}

/**
 * Opens the live stream with `token` and keeps it open, reconnecting with backoff. The token is kept
 * only once the node accepted it (its `hello`); 401/403 send the user back to the sign-in form.
 */
function start(token: string): void {
  stop();
  const abort = new AbortController();
  const nodes = new NodesPanel();
  const current: Session = { abort, timers: [], nodes };
  session = current;
  const charts = new ChartsPanel();
  activeCharts = charts;
  let leases: LeasesPanel | undefined;
  let lastUsage = '';
  let lastSnapshotAt = performance.now();
  let failures = 0;
  let lastAuditAt = Number.NEGATIVE_INFINITY;
  let auditScheduled = false;
  const audit = () => {
    lastAuditAt = performance.now();
    void refreshAudit(token, abort.signal).then((unsealed) => {
      // A change just made (a force-release on this page) shows once sealed, about a second later, not
      // up to a poll (5 s) later.
      if (unsealed > 0) auditLater(SEAL_FOLLOW_UP_MS);
    });
  };
  /** One read `delayMs` from now, unless one is scheduled already: a busy trail costs little. */
  const auditLater = (delayMs: number) => {
    if (auditScheduled || abort.signal.aborted) return;
    auditScheduled = true;
    window.setTimeout(() => {
      auditScheduled = false;
      if (!abort.signal.aborted) audit();
    }, delayMs);
  };

  const onEvent = (event: string, data: string) => {
    if (event === 'hello') {
      const hello = JSON.parse(data) as Hello;
      saveToken(token);
      failures = 0;
      byId('sign-in').hidden = true;
      byId('dashboard').hidden = false;
      byId('sign-out').hidden = false;
      byId('whoami').textContent = `${hello.scope} · node ${hello.node}`;
      document.body.dataset.role = hello.scope;
      if (!leases) {
        leases = new LeasesPanel(token, hello.canForceRelease, abort.signal);
        leases.refresh();
        audit();
        void refreshReplication(token, abort.signal);
      }
      setConnection('live', `live from ${hello.node}`);
      return;
    }
    if (event !== 'snapshot') return;
    const snapshot = JSON.parse(data) as Snapshot;
    lastSnapshotAt = performance.now();
    const connection = byId('connection');
    connection.dataset.snapshot = snapshot.time;
    connection.title = `last snapshot ${new Date(snapshot.time).toLocaleTimeString()}`;
    nodes.update(snapshot);
    renderStoreMembers(snapshot);
    renderUsage(snapshot);
    charts.update(snapshot);
    byId('problems').textContent =
      snapshot.problems.length > 0 ? `Partial data: ${snapshot.problems.join(', ')}` : '';
    const usage = usageSignature(snapshot);
    if (usage !== lastUsage) {
      lastUsage = usage;
      leases?.refresh();
      // A seat change is an audit event too; at most one extra read a second however busy the seats are,
      // and a change within that second is read at its end rather than dropped until the next poll.
      if (leases) auditLater(Math.max(0, lastAuditAt + 1000 - performance.now()));
    }
  };

  const loop = async () => {
    while (!abort.signal.aborted) {
      setConnection('connecting', failures === 0 ? 'connecting…' : `reconnecting (attempt ${failures + 1})…`);
      const attempt = new AbortController();
      const relay = () => attempt.abort();
      abort.signal.addEventListener('abort', relay, { once: true });
      const watchdog = window.setInterval(() => {
        if (performance.now() - lastSnapshotAt > STALE_MS) attempt.abort();
      }, 1000);
      lastSnapshotAt = performance.now();
      try {
        await readEventStream(token, '/v1/events', onEvent, attempt.signal);
      } catch (err) {
        if (err instanceof ApiProblem && (err.status === 401 || err.status === 403)) {
          if (session === current) {
            signOut(
              err.status === 401
                ? 'That token is unknown or revoked.'
                : 'That token may not open the dashboard: sign in with an admin or operator token.',
            );
          }
          return;
        }
      } finally {
        clearInterval(watchdog);
        abort.signal.removeEventListener('abort', relay);
      }
      if (abort.signal.aborted) return;
      failures++;
      setConnection('lost', 'connection lost; retrying…');
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * 2 ** Math.min(failures, 4))));
    }
  };

  current.timers.push(
    window.setInterval(() => nodes.render(), TICK_MS),
    window.setInterval(() => {
      leases?.refresh();
      if (leases) audit();
    }, POLL_MS),
    window.setInterval(() => {
      if (leases) void refreshReplication(token, abort.signal);
    }, REPLICATION_POLL_MS),
  );
  void loop();
}

function init(): void {
  byId<HTMLFormElement>('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>('token');
    const token = input.value.trim();
    input.value = '';
    if (token === '') {
      byId('sign-in-error').textContent = 'Paste an admin or operator token.';
      return;
    }
    start(token);
  });
  byId('sign-out').addEventListener('click', () => signOut());
  window.addEventListener('resize', () => activeCharts?.resize());
  const token = savedToken();
  if (token) start(token);
  else showSignIn();
}

init();
