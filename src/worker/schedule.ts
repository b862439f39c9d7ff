// Runs the daily maintenance inside the worker, on CRON_SCHEDULE (UTC). With Redis (BullMQ, or
// next to SQS) a job scheduler in Redis fires it once per occurrence however many workers run;
// otherwise (embedded, SQS alone) a timer in each worker does (the maintenance is idempotent).
import { Queue, Worker } from 'bullmq';
import { CronExpressionParser } from 'cron-parser';
import type { Config } from '../config.js';
import { runMaintenance } from '../cron/maintenance.js';
import type { Logger } from '../logger.js';
import { createRedis } from '../queue/redis.js';
import type { AnalyticsStore } from '../store/port.js';

/** The maintenance queue's name, next to the events queue (the queue board shows both). */
export const maintenanceQueueName = (q: Config['queue']) => `${q.name}-maintenance`;

export interface Schedule {
  close(): Promise<void>;
}

export async function startMaintenanceSchedule(config: Config, store: AnalyticsStore, logger: Logger): Promise<Schedule> {
  const run = () =>
    runMaintenance(store, { retentionDays: config.retentionDays, logger }).catch((err: Error) => {
      logger.error({ err }, `Maintenance failed: ${err.message}`);
      throw err;
    });

  if (config.redis) {
    const connection = createRedis(config.redis!, { maxRetriesPerRequest: null, connectionName: `${config.queue.name}:maintenance` });
    connection.on('error', () => {});
    const name = maintenanceQueueName(config.queue);
    const queue = new Queue(name, { connection, prefix: config.queue.prefix });
    queue.on('error', () => {});
    await queue.upsertJobScheduler('daily-maintenance', { pattern: config.cronSchedule, tz: 'UTC' }, { name: 'maintenance' });
    const worker = new Worker(name, async () => run(), { connection, prefix: config.queue.prefix, concurrency: 1 });
    worker.on('error', () => {});
    return {
      close: async () => {
        await worker.close();
        await queue.close();
        connection.disconnect();
      },
    };
  }

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const next = () => {
    const at = CronExpressionParser.parse(config.cronSchedule, { tz: 'UTC' }).next().getTime();
    // setTimeout holds at most ~24.8 days; a longer wait re-arms on the way.
    timer = setTimeout(() => {
      if (closed) return;
      if (Date.now() >= at) void run().catch(() => {}).finally(next);
      else next();
    }, Math.min(at - Date.now(), 2 ** 31 - 1));
    timer.unref();
  };
  // Embedded installs are often asleep at the scheduled time: catch up once at start.
  await run().catch(() => {});
  next();
  return {
    close: async () => {
      closed = true;
      clearTimeout(timer);
    },
  };
}
