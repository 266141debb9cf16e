import type { IncomingMessage } from 'node:http';

/**
 * What a client may choose as its request id (`x-request-id`): short, printable, no separators that
 * could forge a log line or a header. Tracing ids (UUIDs, W3C trace ids, `svc-42:7`) fit; anything else
 * — control characters, newlines, non-ASCII, several values, kilobytes — is replaced by a new id, so the
 * id that reaches the logs and the problem body is always one we can print as is.
 */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Fastify's genReqId (with `requestIdHeader: false`): the client's id when well-formed, else a new one. */
export function requestIdGenerator(newId: () => string): (request: IncomingMessage) => string {
  return (request) => {
    const given = request.headers['x-request-id'];
    return typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : newId();
  };
}
