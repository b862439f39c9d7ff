// What the API knows about the rest of the system, for /metrics, /api/ready and its worker warning:
// the queue's counts and the workers' heartbeats, read from the queue's backend and cached between
// asks (QUEUE_STATS_CACHE_SECONDS).
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { ApiMetrics } from '../metrics/api.js';
import { CachedRead } from '../metrics/cache.js';
import { registerQueueGauges } from '../metrics/queue.js';
import { embeddedQueueFile } from '../queue/factory.js';
import { openHeartbeats } from '../queue/heartbeat.js';
import { createQueueInspector } from '../queue/inspect.js';
import type { EventQueue } from '../queue/port.js';
import type { AnalyticsStore } from '../store/port.js';
import { Readiness, WorkerWatch } from './readiness.js';

export interface Operations {
  readiness: Readiness;
  /** Starts the warning about missing workers; later calls do nothing. */
  startWorkerWatch(): void;
  close(): Promise<void>;
}

export function createOperations(o: {
  config: Config;
  /** What the API enqueues to (BullMQ: behind its binding gate): pinged by /api/ready. */
  queue: EventQueue;
  /** The adapter itself, whose connection reads the counts. */
  producer: EventQueue;
  store: AnalyticsStore;
  metrics: ApiMetrics;
  logger: Logger;
}): Operations {
  const { config } = o;
  const inspector = createQueueInspector(config, o.producer, embeddedQueueFile(config));
  const heartbeats = openHeartbeats(config, embeddedQueueFile(config), o.store);
  const queueSnapshot = new CachedRead(() => inspector.snapshot(), config.metrics.queueCacheMs);
  const aliveWorkers = new CachedRead(() => heartbeats.seenSince(Date.now() - config.heartbeat.timeoutMs), config.metrics.queueCacheMs);
  registerQueueGauges(o.metrics.registry, { queue: () => queueSnapshot.get(), workers: () => aliveWorkers.get() }, {
    timeoutMs: config.ready.checkTimeoutMs,
    oldestAge: config.queue.kind !== 'sqs',
  });
  const hint =
    config.queue.kind === 'embedded' && config.worker.inProcess
      ? 'This API runs a worker thread (RUN_WORKER): see its log lines above.'
      : 'Start one with the same queue and store settings as this API: npm run worker:prod (or node dist/worker/processor.js).';
  const readiness = new Readiness({
    queue: o.queue,
    store: o.store,
    heartbeats,
    queueSnapshot: () => queueSnapshot.get(),
    heartbeat: config.heartbeat,
    ready: config.ready,
    workerHint: hint,
  });
  const watch = new WorkerWatch(readiness, { ...config.heartbeat, checkTimeoutMs: config.ready.checkTimeoutMs, hint }, o.logger);
  let watching = false;
  return {
    readiness,
    startWorkerWatch() {
      if (watching) return;
      watching = true;
      watch.start();
    },
    async close() {
      watch.stop();
      await inspector.close();
      await heartbeats.close();
    },
  };
}
