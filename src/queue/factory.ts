// The one place that chooses the queue adapter from the configuration: BullMQ (Redis), SQS
// (USE_SQS=true) or the embedded SQLite queue.
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { BullmqEventConsumer, BullmqEventQueue } from './bullmq.js';
import { EmbeddedEventConsumer, EmbeddedEventQueue } from './embedded.js';
import type { EventConsumer, EventQueue } from './port.js';
import { SqsEventConsumer, SqsEventQueue } from './sqs.js';

/** The embedded queue shares the SQLite file of the embedded store. */
export const embeddedQueueFile = (config: Config) => path.join(config.dataDir, 'analytics.db');

/** The queue as logs name it: `sqs queue "https://…"`, `bullmq queue "analytics_events"`. */
export function queueLabel(config: Config): string {
  return `${config.queue.kind} queue "${config.queue.kind === 'sqs' ? config.sqs!.queueUrl : config.queue.name}"`;
}

/** The producer side, for the API. */
export function createEventQueue(config: Config, logger?: Logger): EventQueue {
  switch (config.queue.kind) {
    case 'bullmq':
      // On a Redis Cluster a write retries through a failover for up to ENQUEUE_TIMEOUT_MS.
      return new BullmqEventQueue(config.redis!, config.queue, { retryForMs: config.ingest.enqueueTimeoutMs, logger });
    case 'sqs':
      return new SqsEventQueue(config.sqs!);
    case 'embedded':
      // The request waits at most ENQUEUE_TIMEOUT_MS for the worker's write lock; each job keeps
      // the retry options it was queued with, as BullMQ jobs do.
      return new EmbeddedEventQueue(embeddedQueueFile(config), config.ingest.enqueueTimeoutMs, {
        attempts: config.queue.attempts,
        backoffMs: config.queue.backoffMs,
      });
  }
}

/** The consumer side, for workers and `npm run queue:retry-failed`. */
export function createEventConsumer(config: Config, logger?: Logger): EventConsumer {
  const flushMaxEvents = config.worker.flushMaxEvents;
  switch (config.queue.kind) {
    case 'bullmq':
      return new BullmqEventConsumer(config.redis!, config.queue, { flushMaxEvents });
    case 'sqs':
      return new SqsEventConsumer(config.sqs!, config.queue, { flushMaxEvents, logger });
    case 'embedded': {
      const consumer = new EmbeddedEventConsumer(embeddedQueueFile(config), config.queue, { flushMaxEvents, lockMs: config.queue.lockMs });
      if (logger) consumer.onError = (err) => logger.error({ err }, `Queue error: ${err.message}`);
      return consumer;
    }
  }
}
