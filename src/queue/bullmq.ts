// The production queue: BullMQ on Redis. One job carries the events of one ingestion batch.
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import type { Config } from '../config.js';
import type { QueuedEvent } from '../core/event.js';
import { createFailFastRedis, createRedis, type RedisConfig } from './redis.js';
import {
  QueueUnavailableError,
  type ClaimedJob,
  type EventConsumer,
  type EventQueue,
  type GroupHandler,
  type QueueCounts,
} from './port.js';

export const JOB_NAME = 'events';

/** The spec's job options: 5 attempts, exponential backoff from 2 s, bounded history. */
export function jobOptions(q: Config['queue']): JobsOptions {
  return {
    attempts: q.attempts,
    backoff: { type: 'exponential', delay: q.backoffMs },
    removeOnComplete: { count: q.keepCompleted.count, age: q.keepCompleted.ageSeconds },
    removeOnFail: { count: q.keepFailed.count, age: q.keepFailed.ageSeconds },
  };
}

export class BullmqEventQueue implements EventQueue {
  readonly kind = 'bullmq' as const;
  readonly queue: Queue;
  private redis: Redis;

  constructor(redisConfig: RedisConfig, private q: Config['queue']) {
    this.redis = createFailFastRedis(redisConfig, `${q.name}:producer`);
    this.queue = new Queue(q.name, { connection: this.redis, prefix: q.prefix, defaultJobOptions: jobOptions(q) });
    this.queue.on('error', () => {}); // surfaced through enqueue() failures and ping()
  }

  async enqueue(events: QueuedEvent[]): Promise<void> {
    if (this.redis.status !== 'ready') throw new QueueUnavailableError(new Error(`Redis connection is ${this.redis.status}`));
    try {
      // The batch id as job id: if ioredis resends the command after a reconnect, Redis keeps one job.
      await this.queue.add(JOB_NAME, { events }, { jobId: uuidv7() });
    } catch (err) {
      throw new QueueUnavailableError(err);
    }
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => {});
    this.redis.disconnect();
  }
}

interface Pending {
  job: Job;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * BullMQ runs one job per concurrency slot; jobs active at the same time share one store
 * transaction here. A job completes only after the transaction that applied it has committed.
 */
export class BullmqEventConsumer implements EventConsumer {
  private worker: Worker | undefined;
  private connection: Redis;
  private queue: Queue;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private handler: GroupHandler | undefined;
  private closing = false;

  constructor(
    redisConfig: RedisConfig,
    private q: Config['queue'],
    private opts: { flushMaxEvents: number; lingerMs?: number },
  ) {
    this.connection = createRedis(redisConfig, { maxRetriesPerRequest: null, connectionName: `${q.name}:worker` });
    this.connection.on('error', () => {});
    this.queue = new Queue(q.name, { connection: this.connection, prefix: q.prefix });
    this.queue.on('error', () => {});
  }

  async start(handler: GroupHandler): Promise<void> {
    this.handler = handler;
    this.worker = new Worker(this.q.name, (job) => this.submit(job), {
      connection: this.connection,
      prefix: this.q.prefix,
      concurrency: this.q.concurrency,
      limiter: this.q.rateLimit.max > 0 ? { max: this.q.rateLimit.max, duration: this.q.rateLimit.durationMs } : undefined,
      lockDuration: this.q.lockMs,
      stalledInterval: this.q.lockMs,
      autorun: false,
    });
    this.worker.on('error', () => {}); // connection errors: the worker reconnects by itself
    void this.worker.run();
    await this.worker.waitUntilReady();
  }

  /** The worker, for event listeners (failed, completed…). */
  get bullWorker(): Worker | undefined {
    return this.worker;
  }

  private submit(job: Job): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      const events = this.pending.reduce((n, p) => n + eventCount(p.job.data), 0);
      // Flush when no more jobs can join (every slot is waiting) or the group is large enough;
      // otherwise linger briefly so jobs fetched a moment later share the transaction.
      if (this.closing || this.pending.length >= this.q.concurrency || events >= this.opts.flushMaxEvents) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.lingerMs ?? 5);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const group = this.pending.splice(0);
    if (group.length === 0) return;
    const jobs: ClaimedJob[] = group.map((p) => ({ id: String(p.job.id), data: p.job.data, attemptsMade: p.job.attemptsMade }));
    this.handler!(jobs).then(
      (results) => results.forEach((err, i) => (err ? group[i]!.reject(err) : group[i]!.resolve())),
      (err: Error) => group.forEach((p) => p.reject(err)),
    );
  }

  async counts(): Promise<QueueCounts> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    return { waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0 };
  }

  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.flush();
    if (this.worker) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
      const result = await Promise.race([this.worker.close(), deadline]);
      clearTimeout(timer);
      // Past the deadline, unfinished jobs are left to BullMQ's stalled-job recovery.
      if (result === 'timeout') await this.worker.close(true);
    }
    await this.queue.close().catch(() => {});
    this.connection.disconnect();
  }
}

function eventCount(data: unknown): number {
  const events = (data as { events?: unknown })?.events;
  return Array.isArray(events) ? events.length : 1;
}
