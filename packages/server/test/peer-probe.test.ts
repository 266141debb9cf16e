import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ManualClock } from '@leasehold/domain';
import { createCertificateAuthority, issueCertificate } from '@leasehold/pki';
import type { Membership, NodeRecord } from '@leasehold/store';
import { describe, expect, it } from 'vitest';
import { PeerProbe, type PeerReading, peerTimeRequest } from '../src/node/peer-probe.js';
import { skewBeyondMargin } from '../src/node/skew-beyond-margin.js';

/** A membership whose node list the test sets. */
function staticMembership(ids: () => string[]): Membership {
  return {
    join: async () => undefined,
    leave: async () => undefined,
    clockMargin: async (configuredMs: number) => configuredMs,
    nodes: async () =>
      ids().map(
        (id): NodeRecord => ({
          id,
          url: `https://${id}.test:7300`,
          version: 'test',
          startedAt: 0,
          heartbeatAt: 0,
          leads: [],
        }),
      ),
    storeMembers: async () => [],
    leadership: () => ({ leader: false, fence: undefined }),
  };
}

const log = { warn: () => undefined };

describe('peer clock probe (NTP-style, fake clock)', () => {
  it('skew = peer time − (send time + RTT/2) of the fastest recent probe; unreachable keeps it; departed peers drop out', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 28));
    let members: string[] = [];
    // Each peer answers after `out` + `back` ms (20 + 20 unless set) with its clock read on arrival.
    const offsets: Record<string, number> = { ahead: 5000, behind: -1200 };
    let out = 20;
    const back = 20;
    let downFails = false;
    const probe = new PeerProbe({
      membership: staticMembership(() => members),
      selfId: 'self',
      clock,
      intervalMs: 1000,
      timeoutMs: 500,
      log,
      request: async (url) => {
        const id = new URL(url).hostname.replace('.test', '');
        if (id === 'down' && downFails)
          throw Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' });
        await clock.advance(out);
        const peerTime = clock.now() + (offsets[id] ?? 0);
        await clock.advance(back);
        return peerTime;
      },
    });
    // One peer per round: the fake clock is shared, so concurrent probes would share its advances.
    members = ['self', 'ahead'];
    await probe.probeOnce();
    expect(probe.readings().get('ahead')).toMatchObject({ clockSkewMs: 5000, rttMs: 40, reachable: true });
    // The hosts a caller's node certificate must name (http/auth.ts): every node's, this one's included.
    expect([...probe.peerHosts()].sort()).toEqual(['ahead.test', 'self.test']);

    // A slow, lopsided round trip (300 ms out, 20 back) reads 140 ms off; the filter keeps the 40 ms one.
    out = 300;
    await probe.probeOnce();
    expect(probe.readings().get('ahead')).toMatchObject({ clockSkewMs: 5000, rttMs: 40 });
    // …until eight newer samples have pushed it out (RFC 5905 §10 keeps eight).
    for (let i = 0; i < 7; i++) await probe.probeOnce();
    expect(probe.readings().get('ahead')).toMatchObject({ clockSkewMs: 5140, rttMs: 320 });
    out = 20;

    members = ['self', 'behind'];
    await probe.probeOnce();
    expect([...probe.readings().keys()]).toEqual(['behind']);
    expect(probe.readings().get('behind')).toMatchObject({ clockSkewMs: -1200, rttMs: 40, reachable: true });

    members = ['self', 'down'];
    await probe.probeOnce();
    expect(probe.readings().get('down')).toMatchObject({ clockSkewMs: 0, reachable: true });
    downFails = true;
    await probe.probeOnce();
    expect(probe.readings().get('down')).toMatchObject({
      clockSkewMs: 0,
      rttMs: 40,
      reachable: false,
      error: 'ECONNREFUSED: connect refused',
    });

    await probe.stop();
    members = ['self', 'late'];
    probe.start(); // a stopped probe stays stopped
    await probe.probeOnce();
    expect(probe.readings().has('late')).toBe(false);
  });
});

describe('skew beyond the clock margin', () => {
  const reading = (clockSkewMs: number, rttMs: number, reachable = true): PeerReading => ({
    clockSkewMs,
    rttMs,
    probedAt: 0,
    reachable,
  });

  it('flags |skew| - rtt/2 > M only, either direction; not an unreachable peer, not with M = 0', () => {
    expect(skewBeyondMargin(reading(2000, 10), 2000)).toBe(false);
    expect(skewBeyondMargin(reading(2006, 10), 2000)).toBe(true);
    // Within the probe's ±rtt/2 uncertainty of M: not certain, not flagged.
    expect(skewBeyondMargin(reading(2004, 10), 2000)).toBe(false);
    expect(skewBeyondMargin(reading(-2006, 10), 2000)).toBe(true);
    expect(skewBeyondMargin(reading(5000, 10, false), 2000)).toBe(false);
    expect(skewBeyondMargin(reading(5000, 10), 0)).toBe(false);
    expect(
      skewBeyondMargin({ probedAt: 0, reachable: true, clockSkewMs: undefined, rttMs: undefined }, 1000),
    ).toBe(false);
  });
});

describe('peer time transport', () => {
  it('presents the node certificate over mutual TLS; refuses plaintext, a misnamed peer; is refused with another CA', async () => {
    const ca = await createCertificateAuthority();
    const server = await issueCertificate(ca, { name: 'node-2', sans: ['127.0.0.1'], kind: 'peer' });
    const client = await issueCertificate(ca, { name: 'node-1', sans: ['127.0.0.1'], kind: 'peer' });
    const seen: string[] = [];
    const https = createServer(
      {
        cert: server.certPem,
        key: server.keyPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        seen.push(String((req.socket as TLSSocket).getPeerCertificate().subject.CN));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ node: 'node-2', time: 1234.5 }));
      },
    );
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const { port } = https.address() as AddressInfo;
    const request = peerTimeRequest({ ca: ca.certPem, cert: client.certPem, key: client.keyPem });
    try {
      expect(await request(`https://127.0.0.1:${port}`, 2000)).toBe(1234.5);
      expect(await request(`https://127.0.0.1:${port}/`, 2000)).toBe(1234.5);
      expect(seen).toEqual(['node-1', 'node-1']);
      await expect(request(`http://127.0.0.1:${port}`, 2000)).rejects.toThrow(
        /refusing to probe .* in plaintext/,
      );
      // A peer whose certificate does not name the address it advertises is refused by the prober.
      const misnamed = await issueCertificate(ca, { name: 'node-3', sans: ['node-3.example'], kind: 'peer' });
      const other = createServer({ cert: misnamed.certPem, key: misnamed.keyPem }, (_, res) => res.end('{}'));
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      try {
        const otherPort = (other.address() as AddressInfo).port;
        await expect(request(`https://127.0.0.1:${otherPort}`, 2000)).rejects.toMatchObject({
          code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        });
      } finally {
        other.closeAllConnections();
        await new Promise((resolve) => other.close(resolve));
      }
      // A prober whose certificate is from another CA is refused by the peer.
      const stranger = await issueCertificate(await createCertificateAuthority(), {
        name: 'node-9',
        sans: ['127.0.0.1'],
        kind: 'peer',
      });
      const strangerRequest = peerTimeRequest({
        ca: ca.certPem,
        cert: stranger.certPem,
        key: stranger.keyPem,
      });
      try {
        await expect(strangerRequest(`https://127.0.0.1:${port}`, 2000)).rejects.toMatchObject({
          code: 'ECONNRESET',
        });
      } finally {
        strangerRequest.close();
      }
      expect(seen).toEqual(['node-1', 'node-1']);
    } finally {
      request.close();
      await new Promise((resolve) => https.close(resolve));
    }
  });
});
