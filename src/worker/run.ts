// Starts a worker: store + queue consumer + daily maintenance. Used by `npm run worker`
// (its own process) and by `npm start` in embedded mode (a thread of the server process).
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { openBinding, storeMismatch, type QueueBinding, type StoreIdentity } from '../queue/binding.js';
import { createEventConsumer, embeddedQueueFile, queueLabel } from '../queue/factory.js';
import type { EventConsumer } from '../queue/port.js';
import { openHeartbeats, workerIdentity } from '../queue/heartbeat.js';
import { waitForRedis } from '../queue/redis.js';
import { createRegistry } from '../metrics/registry.js';
import { serveMetrics, type MetricsServer } from '../metrics/server.js';
import { WorkerMetrics } from '../metrics/worker.js';
import { describeStore, openStoreWhenReady } from '../store/index.js';
import { SiteCache } from '../store/site-cache.js';
import { createGroupHandler } from './apply.js';
import { startHeartbeat } from './heartbeat.js';
import { startMaintenanceSchedule } from './schedule.js';

export interface RunningWorker {
  consumer: EventConsumer;
  metrics: WorkerMetrics;
  /** The metrics server's `http://host:port` (WORKER_METRICS_PORT), when it runs. */
  metricsUrl: string | undefined;
  /** Stops taking jobs, finishes the active ones (up to WORKER_SHUTDOWN_TIMEOUT_MS), closes connections. */
  close(): Promise<void>;
}

export { embeddedQueueFile };

export interface WorkerHooks {
  /** Called when the worker must stop for good (its store is not its queue's): log and exit. */
  onFatal?: (err: Error) => void;
}

export interface WorkerOptions {
  /** The registry's metrics; default: a registry of this process's own, with the process metrics. */
  metrics?: WorkerMetrics;
  /**
   * The worker thread of embedded mode: its metrics are served by the API's /metrics (the thread
   * answers the main thread's requests), so it opens no metrics port of its own.
   */
  inThread?: boolean;
}

export async function startWorker(config: Config, logger: Logger, hooks: WorkerHooks = {}, opts: WorkerOptions = {}): Promise<RunningWorker> {
  const metrics = opts.metrics ?? new WorkerMetrics(createRegistry({ processMetrics: true }));
  const store = await openStoreWhenReady(config, logger);
  const identity: StoreIdentity = { id: await store.storeId(), description: describeStore(config) };
  if (config.queue.kind === 'bullmq') await waitForRedis(config.redis!, logger, 'to take jobs');
  const binding = openBinding(config, embeddedQueueFile(config));
  try {
    const bound = await binding.read();
    if (bound && bound.id !== identity.id) throw storeMismatch(binding, bound, identity);
    if (!bound) logger.info(`The ${binding.description} is not bound to a store yet; an API binds it to its store when it starts`);
  } catch (err) {
    await binding.close();
    await store.close();
    throw err;
  }

  const sites = new SiteCache(store);
  await sites.load();
  sites.startRefresh(config.siteCacheRefreshMs, (err) => logger.warn({ err }, 'Site cache refresh failed'));

  const consumer = createEventConsumer(config, logger);
  const guard = bindingGuard(binding, identity, (err) => {
    if (hooks.onFatal) hooks.onFatal(err);
    else logger.fatal(err.message);
  });
  await consumer.start(
    createGroupHandler({ store, sites, logger, storeDescription: identity.description, guard, sessionTimeoutMs: config.worker.sessionTimeoutMs, metrics }),
  );
  // Alive for the API's readiness from the first beat on (awaited: "Worker started" means it is written).
  const heartbeat = startHeartbeat(openHeartbeats(config, embeddedQueueFile(config), store), workerIdentity(), config.heartbeat, logger, () =>
    metrics.heartbeatFailures.inc(),
  );
  await heartbeat.started;
  let metricsServer: MetricsServer | undefined;
  if (config.metrics.workerPort !== undefined && !opts.inThread) {
    metricsServer = await serveMetrics(metrics.registry, {
      port: config.metrics.workerPort,
      host: config.metrics.workerHost,
      access: { adminToken: config.adminToken, public: config.metrics.public },
    });
    logger.info(`Worker metrics on ${metricsServer.url}/metrics`);
  }
  const schedule = await startMaintenanceSchedule(config, store, logger);
  const pace =
    config.queue.kind === 'bullmq'
      ? `concurrency ${config.queue.concurrency}, limiter ${config.queue.rateLimit.max || 'off'}${config.queue.rateLimit.max ? `/${config.queue.rateLimit.durationMs} ms` : ''}`
      : config.queue.kind === 'sqs'
        ? `long polls of ${config.sqs!.waitTimeSeconds} s, up to ${config.worker.flushMaxEvents} events per transaction`
        : `up to ${config.worker.flushMaxEvents} events per transaction`;
  const rejected = await store.countRejectedEvents().catch(() => 0);
  logger.info(
    `Worker started: ${queueLabel(config)}, ${config.store.kind} store, ${pace}` +
      (rejected > 0 ? `; ${rejected} event${rejected === 1 ? '' : 's'} set aside so far in rejected_events` : ''),
  );

  return {
    consumer,
    metrics,
    metricsUrl: metricsServer?.url,
    close: async () => {
      logger.info('Worker stopping: finishing active jobs');
      await consumer.close(config.worker.shutdownTimeoutMs);
      // Gone for readiness at once, not after the heartbeat timeout.
      await heartbeat.stop();
      await metricsServer?.close();
      await schedule.close();
      sites.stop();
      await binding.close();
      await store.close();
      logger.info('Worker stopped');
    },
  };
}

/**
 * Before each group: is the queue still bound to this worker's store? (An API may bind an unbound
 * queue, or take over an empty one.) One small read per group, negligible next to its transaction.
 * On a mismatch the group is not applied, and `onMismatch` stops the worker.
 */
function bindingGuard(binding: QueueBinding, identity: StoreIdentity, onMismatch: (err: Error) => void): () => Promise<void> {
  let mismatch: Error | undefined;
  return async () => {
    if (mismatch) throw mismatch;
    let bound;
    try {
      bound = await binding.read();
    } catch {
      return; // the queue itself is unreachable: its own errors say so
    }
    if (bound && bound.id !== identity.id) {
      mismatch = storeMismatch(binding, bound, identity);
      setImmediate(() => onMismatch(mismatch!));
      throw mismatch;
    }
  };
}
