/** A problem+json answer (RFC 9457) from the node, with its stable code. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

async function problemOf(res: Response): Promise<ApiProblem> {
  const body = (await res.json().catch(() => ({}))) as { code?: string; detail?: string; title?: string };
  return new ApiProblem(
    res.status,
    body.code ?? `HTTP_${res.status}`,
    body.detail ?? body.title ?? res.statusText,
  );
}

/**
 * Calls this node's API with the signed-in token in the Authorization header: the token never goes into
 * a URL (where access logs and browser history would keep it) or a cookie.
 */
export async function api<T>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
    cache: 'no-store',
    signal: signal ?? null,
  });
  if (!res.ok) throw await problemOf(res);
  return (await res.json()) as T;
}

/**
 * Reads a server-sent event stream (the WHATWG "event stream" format) over fetch(). EventSource cannot
 * send an Authorization header, and a token in the URL would leak into logs; fetch() can, and its body is
 * a stream. Resolves when the server ends the stream; rejects with ApiProblem when it refuses it.
 */
export async function readEventStream(
  token: string,
  path: string,
  onEvent: (event: string, data: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await fetch(path, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    cache: 'no-store',
    signal,
  });
  if (!res.ok) throw await problemOf(res);
  if (!res.body) throw new ApiProblem(res.status, 'NO_STREAM', 'the answer has no body');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  }
}
