// `npm run queue:retry-failed`: after an outage longer than the retry budget (5 attempts, about
// 30 s with the defaults), jobs wait in the failed set (SQS: the dead-letter queue); this queues
// them again. Applying is idempotent per event id, so a job that did get applied somewhere still
// counts once. It also says how many events the workers set aside (rejected_events): those are not
// retried.
import { createLogger, flushLogs } from '../logger.js';
import { configOrExit, isOperatorError } from '../process.js';
import { createEventConsumer, queueLabel } from '../queue/factory.js';
import { openStoreWhenReady } from '../store/index.js';

const config = configOrExit('tool');
const logger = createLogger(config, 'queue');
const consumer = createEventConsumer(config, logger);
try {
  const n = await consumer.retryFailed();
  logger.info(`${n} failed job${n === 1 ? '' : 's'} queued again in ${queueLabel(config)}`);
  const store = await openStoreWhenReady(config, logger);
  try {
    const rejected = await store.countRejectedEvents();
    logger.info(
      `${rejected} event${rejected === 1 ? '' : 's'} set aside by the workers in rejected_events of the ${config.store.kind} store` +
        (rejected > 0 ? ' (never applied, not retried: each row holds the event and the reason)' : ''),
    );
  } finally {
    await store.close();
  }
} catch (err) {
  if (isOperatorError(err)) logger.error(`Could not retry failed jobs: ${(err as Error).message}`);
  else logger.error({ err }, `Could not retry failed jobs: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  try {
    await consumer.close(1000);
  } finally {
    await flushLogs();
  }
}
