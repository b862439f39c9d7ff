// The PostgreSQL store: the same SQL implementation over node-postgres.
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Database as Schema } from './schema.js';
import { PostgresBulk } from './bulk.js';
import { SqlStore } from './store.js';
import { StartupError } from '../../startup-error.js';

// bigint (20) and numeric (1700, SUM of bigint) as JS numbers: our counters stay far below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 || oid === 1700 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const pgCode = (err: unknown) => (err as { code?: string }).code ?? '';
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

export function openPostgresStore(url: string, options: { schema?: string; poolSize?: number } = {}): SqlStore {
  const schema = options.schema ?? 'public';
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    types,
    // Each connection works in the configured schema (tests use one schema per run).
    options: `-c search_path=${quoteIdent(schema)}`,
    connectionTimeoutMillis: 5000,
  });
  // An idle client that loses its server emits 'error'; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return new SqlStore(db, {
    dialect: 'postgres',
    maxParams: 65_000,
    withMigrationLock: async (kdb, fn) => {
      try {
        await kdb.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(hashtext('website-analytics:migrate'))`.execute(trx);
          await sql.raw(`create schema if not exists ${quoteIdent(schema)}`).execute(trx);
          await fn(trx);
        });
      } catch (err) {
        throw explainConnectError(err, url);
      }
    },
    // Deadlock and serialization failures are safe to retry: the transaction rolled back.
    isRetryable: (err) => ['40P01', '40001'].includes(pgCode(err)),
    isUniqueViolation: (err) => pgCode(err) === '23505',
    // SQLSTATE class 22 (data exception: a NUL byte is 22021, invalid text 22P05, out of range 22003)
    // and 23 (integrity constraint violation): the data. Everything else is the store's.
    isDataError: (err) => /^2[23]/.test(pgCode(err)),
    bulk: new PostgresBulk(),
  });
}

/** The first query's failures that only the operator can fix, as one line saying how. */
function explainConnectError(err: unknown, url: string): unknown {
  const code = pgCode(err);
  if (code !== '3D000' && code !== '28P01' && code !== '28000') return err;
  let host = 'localhost';
  let port = '5432';
  let user = '';
  let database = '';
  try {
    const u = new URL(url);
    host = u.hostname || host;
    port = u.port || port;
    user = decodeURIComponent(u.username);
    database = decodeURIComponent(u.pathname.slice(1));
  } catch {
    // not a URL node-postgres can parse either; keep the defaults
  }
  if (code === '3D000') {
    const db = database || user || 'postgres';
    return new StartupError(
      `PostgreSQL database "${db}" does not exist on ${host}:${port}. Create it once with: createdb -h ${host} -p ${port}${user ? ` -U ${user}` : ''} ${db}` +
        ` (or in psql: CREATE DATABASE "${db}";), then start again`,
    );
  }
  return new StartupError(`PostgreSQL at ${host}:${port} refused the login${user ? ` of user "${user}"` : ''}: ${(err as Error).message}. Check the user and password in DATABASE_URL`);
}
