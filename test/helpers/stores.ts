// Fresh, isolated stores for tests: a temporary SQLite file, or a PostgreSQL schema of its own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openSqliteStore } from '../../src/store/sql/sqlite.js';
import { openPostgresStore } from '../../src/store/sql/postgres.js';
import type { StoreHarness } from '../store.contract.js';
import { POSTGRES_URL, uniqueName } from './services.js';

export function tempDir(prefix = 'analytics-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function sqliteHarness(): Promise<StoreHarness> {
  const dir = tempDir();
  const store = openSqliteStore(path.join(dir, 'analytics.db'));
  await store.migrate();
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

export async function postgresHarness(): Promise<StoreHarness & { schema: string }> {
  const schema = uniqueName('test');
  const store = openPostgresStore(POSTGRES_URL, { schema, poolSize: 5 });
  await store.migrate();
  return {
    store,
    schema,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
}
