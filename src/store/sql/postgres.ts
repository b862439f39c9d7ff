// The PostgreSQL store: the same SQL implementation over node-postgres.
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Database as Schema } from './schema.js';
import { PostgresBulk } from './bulk.js';
import { SqlStore } from './store.js';

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
      await kdb.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext('website-analytics:migrate'))`.execute(trx);
        await sql.raw(`create schema if not exists ${quoteIdent(schema)}`).execute(trx);
        await fn(trx);
      });
    },
    // Deadlock and serialization failures are safe to retry: the transaction rolled back.
    isRetryable: (err) => ['40P01', '40001'].includes(pgCode(err)),
    isUniqueViolation: (err) => pgCode(err) === '23505',
    bulk: new PostgresBulk(),
  });
}
