// Chooses the store adapter from the configuration.
import type { Config } from '../config.js';
import type { AnalyticsStore } from './port.js';
import { openSqliteStore } from './sql/sqlite.js';
import { openPostgresStore } from './sql/postgres.js';

export async function openStore(config: Config): Promise<AnalyticsStore> {
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
  await store.migrate();
  return store;
}
