// The embedded store: one SQLite file (better-sqlite3), no server to install.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database as Schema } from './schema.js';
import { SqliteBulk } from './bulk.js';
import { SqlStore } from './store.js';

/** Opens a SQLite connection tuned for one writer and many readers (WAL). */
export function openSqliteFile(file: string): Database.Database {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL: a commit survives a crash of the process; a power loss may lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  db.pragma('cache_size = -65536');
  // Reads through the OS page cache instead of copying pages (file-backed, reclaimable memory),
  // and checkpoints every ~40 MB of WAL instead of every 4 MB: together ~50% more write throughput.
  db.pragma('mmap_size = 268435456');
  db.pragma('wal_autocheckpoint = 10000');
  return db;
}

const sqliteCode = (err: unknown) => (err as { code?: string }).code ?? '';

export function openSqliteStore(file: string): SqlStore {
  const database = openSqliteFile(file);
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database }) });
  return new SqlStore(db, {
    dialect: 'sqlite',
    maxParams: 32_000,
    // SQLite serialises writers: the migration's first statement writes, so a second process waits
    // (busy_timeout) for the first one's transaction instead of racing it.
    withMigrationLock: async (kdb, fn) => {
      await kdb.transaction().execute(fn);
    },
    isRetryable: (err) => sqliteCode(err).startsWith('SQLITE_BUSY'),
    isUniqueViolation: (err) => sqliteCode(err).startsWith('SQLITE_CONSTRAINT'),
    // Constraints (triggers included), type mismatches, values too big: the data, not the file.
    isDataError: (err) => /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(sqliteCode(err)),
    bulk: new SqliteBulk(database),
  });
}
