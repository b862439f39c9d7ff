// `npm run cron`: runs the daily maintenance once and exits.
import { loadConfig, loadDotEnv } from '../config.js';
import { createLogger, flushLogs } from '../logger.js';
import { openStore } from '../store/index.js';
import { runMaintenance } from './maintenance.js';

loadDotEnv();
const config = loadConfig();
const logger = createLogger(config, 'cron');
try {
  const store = await openStore(config);
  try {
    await runMaintenance(store, { retentionDays: config.retentionDays, logger });
  } finally {
    await store.close();
  }
} catch (err) {
  logger.error({ err }, `Maintenance failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await flushLogs();
}
