// `npm run queue:retry-failed`: after an outage longer than the retry budget (5 attempts, about
// 30 s with the defaults), jobs wait in the failed set (SQS: the dead-letter queue); this queues
// them again. Applying is idempotent per event id, so a job that did get applied somewhere still
// counts once.
import { loadConfig, loadDotEnv } from '../config.js';
import { createLogger, flushLogs } from '../logger.js';
import { createEventConsumer, queueLabel } from '../queue/factory.js';

loadDotEnv();
const config = loadConfig();
const logger = createLogger(config, 'queue');
const consumer = createEventConsumer(config, logger);
try {
  const n = await consumer.retryFailed();
  logger.info(`${n} failed job${n === 1 ? '' : 's'} queued again in ${queueLabel(config)}`);
} catch (err) {
  logger.error({ err }, `Could not retry failed jobs: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  try {
    await consumer.close(1000);
  } finally {
    await flushLogs();
  }
}
