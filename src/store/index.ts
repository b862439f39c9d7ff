// Chooses the store adapter from the configuration.
import type { Config } from '../config.js';
import { redactUrl } from '../config.js';
import type { Logger } from '../logger.js';
import { isConnectionError, untilReady } from '../ready.js';
import type { AnalyticsStore } from './port.js';
import { openSqliteStore } from './sql/sqlite.js';
import { openPostgresStore } from './sql/postgres.js';

/** `migrate: false` for short-lived readers (the worker's health check) of a store a worker already migrated. */
export async function openStore(config: Pick<Config, 'store'>, opts: { migrate?: boolean } = {}): Promise<AnalyticsStore> {
  const c = config.store;
  let store: AnalyticsStore;
  switch (c.kind) {
    case 'sqlite':
      store = openSqliteStore(c.file);
      break;
    case 'postgres':
      store = openPostgresStore(c.url, { schema: c.schema });
      break;
    case 'mongodb': {
      // Loaded on demand: deployments on SQLite or PostgreSQL never load the MongoDB driver.
      const { openMongoStore } = await import('./mongo/store.js');
      store = await openMongoStore(c.uri);
      break;
    }
  }
  if (opts.migrate === false) return store;
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

/**
 * openStore for the entry points: while the database cannot be reached, says so and tries again
 * with a growing pause; any other failure (a missing database, bad credentials) stops at once.
 */
export function openStoreWhenReady(config: Pick<Config, 'store'>, logger: Logger, signal?: AbortSignal): Promise<AnalyticsStore> {
  return untilReady({ what: describeStore(config), attempt: () => openStore(config), isTransient: isStoreUnreachable, logger, signal });
}

/** `the postgres store at postgres://u@db:5432/analytics (schema public)`, without passwords. */
export function describeStore(config: Pick<Config, 'store'>): string {
  const c = config.store;
  switch (c.kind) {
    case 'sqlite':
      return `the sqlite store ${c.file}`;
    case 'postgres':
      return `the postgres store at ${redactUrl(c.url)} (schema ${c.schema})`;
    case 'mongodb':
      return `the mongodb store at ${redactUrl(c.uri)}`;
  }
}

function isStoreUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  if (isConnectionError(err)) return true;
  // PostgreSQL starting up or out of connection slots; SQLite locked by another process.
  if (e && (e.code === '57P03' || e.code === '53300' || (typeof e.code === 'string' && e.code.startsWith('SQLITE_BUSY')))) return true;
  return e?.name === 'MongoServerSelectionError' || e?.name === 'MongoNetworkError' || e?.name === 'MongoNetworkTimeoutError';
}
