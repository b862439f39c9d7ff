// Waiting for a service at start-up (Redis, the database): say what is awaited and why, and try
// again with a growing pause, instead of hanging silently or dying on the first refusal.
import type { Logger } from './logger.js';

export interface WaitOptions<T> {
  /** What is awaited, for the log: `the postgres store at db:5432`. */
  what: string;
  attempt: () => Promise<T>;
  /** Errors worth waiting out (connection refused, timeouts); any other error is thrown at once. */
  isTransient: (err: unknown) => boolean;
  logger: Logger;
  /** Pauses double from `firstDelayMs` up to `maxDelayMs`. */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Stops waiting (the process is shutting down). */
  signal?: AbortSignal;
}

export async function untilReady<T>(o: WaitOptions<T>): Promise<T> {
  let delay = o.firstDelayMs ?? 1000;
  let failures = 0;
  for (;;) {
    try {
      const value = await o.attempt();
      if (failures > 0) o.logger.info(`${capitalize(o.what)} is reachable; going on`);
      return value;
    } catch (err) {
      if (!o.isTransient(err) || o.signal?.aborted) throw err;
      failures++;
      o.logger.warn(`Waiting for ${o.what}: ${(err as Error).message || String(err)}; retrying in ${formatDelay(delay)} (attempt ${failures})`);
      await sleep(delay, o.signal);
      delay = Math.min(delay * 2, o.maxDelayMs ?? 30_000);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

const formatDelay = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`);
const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** Network-level failures: the service is not (yet) there. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown; errors?: unknown[] } | null;
  if (!e) return false;
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  // AggregateError (several addresses tried, e.g. ::1 and 127.0.0.1)
  if (Array.isArray(e.errors) && e.errors.some(isConnectionError)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|Connection is closed/i.test(message);
}
