import type { UpstreamHttp } from '../replication/upstream-http.js';

/** A client token of the primary, as an edge keeps it: the hash only. */
export interface UpstreamClientToken {
  readonly id: string;
  readonly hash: string;
  readonly createdAt: number;
  readonly revokedAt?: number | undefined;
}

/** A license as the primary has it: the vendor-signed file, its version, and whether it was revoked. */
export interface UpstreamLicenseFile {
  readonly license: string;
  readonly version: number;
  readonly revoked: boolean;
}

/**
 * What an edge copies from its primary to serve like it: the vendor-signed license file of each block's
 * license (the edge verifies and installs it itself) and the license's client tokens (hashes), so the
 * primary's clients authenticate at the edge unchanged.
 *
 * This is the one seam for the replication change feed (issue 12, item 1): today `HttpEdgeSource` polls
 * two authenticated reads; a feed-backed source that applies `GET /v1/replication/changes` replaces it
 * here and nothing else in `edge/` changes.
 */
export interface EdgeSource {
  licenseFile(licenseId: string): Promise<UpstreamLicenseFile>;
  clientTokens(licenseId: string): Promise<UpstreamClientToken[]>;
}

export class HttpEdgeSource implements EdgeSource {
  constructor(private readonly http: UpstreamHttp) {}

  licenseFile(licenseId: string): Promise<UpstreamLicenseFile> {
    return this.http.call('GET', `/v1/edge/licenses/${encodeURIComponent(licenseId)}/file`);
  }

  async clientTokens(licenseId: string): Promise<UpstreamClientToken[]> {
    const answer = await this.http.call<{ tokens: UpstreamClientToken[] }>(
      'GET',
      `/v1/edge/licenses/${encodeURIComponent(licenseId)}/tokens`,
    );
    return answer.tokens;
  }
}
