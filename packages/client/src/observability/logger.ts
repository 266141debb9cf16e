/**
 * Where the SDK writes what it does. The signature is pino's (`logger.warn(fields, message)`), so a pino
 * or Fastify logger fits as is; `console` fits too. Every method is optional; the default logs nothing.
 *
 * @example
 * ```ts
 * createClient({ servers, token, clientId, logger: pino({ name: 'licensing' }) });
 * ```
 */
export interface Logger {
  debug?(fields: Record<string, unknown>, message: string): void;
  info?(fields: Record<string, unknown>, message: string): void;
  warn?(fields: Record<string, unknown>, message: string): void;
  error?(fields: Record<string, unknown>, message: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Writes to `logger` and never throws: a broken logger must not break licensing. */
export type Log = (level: LogLevel, fields: Record<string, unknown>, message: string) => void;

export function makeLog(logger: Logger | undefined): Log {
  if (!logger) return () => undefined;
  return (level, fields, message) => {
    try {
      logger[level]?.({ component: 'leasehold-client', ...fields }, message);
    } catch {
      // Ignored on purpose: see the type's comment.
    }
  };
}

/** An error's code and message for a log line, without its stack. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { err: { ...(typeof code === 'string' ? { code } : {}), message: error.message } };
  }
  return { err: { message: String(error) } };
}
