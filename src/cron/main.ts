// `npm run cron`: runs the daily maintenance once and exits.
import { createLogger, flushLogs } from '../logger.js';
import { configOrExit, isOperatorError } from '../process.js';
import { openStoreWhenReady } from '../store/index.js';
import { runMaintenance } from './maintenance.js';

const config = configOrExit('cron');
const logger = createLogger(config, 'cron');
try {
  const store = await openStoreWhenReady(config, logger);
  try {
    await runMaintenance(store, { retentionDays: config.retentionDays, logger });
  } finally {
    await store.close();
  }
} catch (err) {
  if (isOperatorError(err)) logger.error(`Maintenance failed: ${(err as Error).message}`);
  else logger.error({ err }, `Maintenance failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await flushLogs();
}
