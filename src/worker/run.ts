// Starts a worker: store + queue consumer + daily maintenance. Used by `npm run worker`
// (its own process) and by `npm start` in embedded mode (a thread of the server process).
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createEventConsumer, queueLabel } from '../queue/factory.js';
import type { EventConsumer } from '../queue/port.js';
import { openStore } from '../store/index.js';
import { SiteCache } from '../store/site-cache.js';
import { createGroupHandler } from './apply.js';
import { startMaintenanceSchedule } from './schedule.js';

export interface RunningWorker {
  consumer: EventConsumer;
  /** Stops taking jobs, finishes the active ones (up to WORKER_SHUTDOWN_TIMEOUT_MS), closes connections. */
  close(): Promise<void>;
}

export { embeddedQueueFile } from '../queue/factory.js';

export async function startWorker(config: Config, logger: Logger): Promise<RunningWorker> {
  const store = await openStore(config);
  const sites = new SiteCache(store);
  await sites.load();
  sites.startRefresh(config.siteCacheRefreshMs, (err) => logger.warn({ err }, 'Site cache refresh failed'));

  const consumer = createEventConsumer(config, logger);
  await consumer.start(createGroupHandler({ store, sites, logger, attempts: config.queue.attempts, sessionTimeoutMs: config.worker.sessionTimeoutMs }));
  const schedule = await startMaintenanceSchedule(config, store, logger);
  const pace =
    config.queue.kind === 'bullmq'
      ? `concurrency ${config.queue.concurrency}, limiter ${config.queue.rateLimit.max || 'off'}${config.queue.rateLimit.max ? `/${config.queue.rateLimit.durationMs} ms` : ''}`
      : config.queue.kind === 'sqs'
        ? `long polls of ${config.sqs!.waitTimeSeconds} s, up to ${config.worker.flushMaxEvents} events per transaction`
        : `up to ${config.worker.flushMaxEvents} events per transaction`;
  logger.info(`Worker started: ${queueLabel(config)}, ${config.store.kind} store, ${pace}`);

  return {
    consumer,
    close: async () => {
      logger.info('Worker stopping: finishing active jobs');
      await consumer.close(config.worker.shutdownTimeoutMs);
      await schedule.close();
      sites.stop();
      await store.close();
      logger.info('Worker stopped');
    },
  };
}
