import type { Socket } from 'node:net';
import { type ErrorCode, errorSpec } from '@leasehold/domain';

/**
 * Fastify's `clientErrorHandler`: errors Node's HTTP parser raises before any route runs (headers over
 * `maxHeaderBytes`, headers or a request that arrive too slowly, bytes that are not HTTP) leave as
 * problem+json with a registry code like every other error, instead of Fastify's plain JSON.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to answer (https://nodejs.org/api/http.html#event-clienterror).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'MALFORMED_REQUEST';
  const spec = errorSpec(code);
  const body = JSON.stringify({
    type: `urn:leasehold:error:${code}`,
    title: spec.title,
    status: spec.status,
    code,
    retryable: spec.retryable,
  });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${spec.status} ${spec.title}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  // end(), not destroy(): closing with unread request bytes would send a TCP reset, and the client would
  // lose the answer. Whatever it still sends is read and dropped; a client that never stops is cut.
  socket.end();
  socket.resume();
  setTimeout(() => socket.destroy(), 1000).unref();
}
