// The production queue: BullMQ on Redis. One job carries the events of one ingestion batch.
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import type { Cluster } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { uuidv7 } from '../core/id.js';
import type { Config } from '../config.js';
import { jobPayload, type QueuedEvent } from '../core/event.js';
import type { Logger } from '../logger.js';
import { createFailFastRedis, createRedis, isCluster, type RedisClient, type RedisConfig } from './redis.js';
import { waitForReplicas } from './replication.js';
import {
  QueueUnavailableError,
  backoffDelay,
  type ClaimedJob,
  type EnqueueOptions,
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

export interface ProducerOptions {
  /** How long a write may retry when the caller gives no deadline (ENQUEUE_TIMEOUT_MS). */
  retryForMs?: number;
  logger?: Logger;
}

/** Waits between attempts of a cluster write: 50 ms doubling to 500 ms. */
const retryDelay = (attempt: number) => Math.min(50 * 2 ** (attempt - 1), 500);
/**
 * How long a failing attempt may take inside ioredis (3 redirections or retries, 100 ms apart). A retry
 * is started only when it can end before the deadline: one still running when the caller answers 503
 * could land afterwards, and a client that then retries would be counted twice.
 */
const ATTEMPT_MS = 400;

export class BullmqEventQueue implements EventQueue {
  readonly kind = 'bullmq' as const;
  readonly queue: Queue;
  /** The producer's connection (fail-fast: while it is down, enqueue answers at once). */
  readonly redis: RedisClient;
  private waitReplicas: number;
  /** A key of the queue: commands sent with it reach the master that holds the queue's slot. */
  private slotKey: string;

  constructor(
    redisConfig: RedisConfig,
    private q: Config['queue'],
    private opts: ProducerOptions = {},
  ) {
    this.redis = createFailFastRedis(redisConfig, `${q.name}:producer`);
    this.waitReplicas = redisConfig.cluster?.waitReplicas ?? 0;
    this.slotKey = `${q.prefix}:${q.name}:meta`;
    this.queue = new Queue(q.name, { connection: this.redis, prefix: q.prefix, defaultJobOptions: jobOptions(q) });
    this.queue.on('error', () => {}); // surfaced through enqueue() failures and ping()
  }

  async enqueue(events: QueuedEvent[], opts: EnqueueOptions = {}): Promise<void> {
    // The batch id as job id: a resent or retried add finds the job and leaves it alone, so a retry
    // after a success whose answer was lost does not make a second job.
    const jobId = uuidv7();
    if (!isCluster(this.redis)) {
      if (this.redis.status !== 'ready') throw new QueueUnavailableError(new Error(`Redis connection is ${this.redis.status}`));
      try {
        await this.queue.add(JOB_NAME, jobPayload(events), { jobId });
      } catch (err) {
        throw new QueueUnavailableError(err);
      }
      return;
    }
    await this.enqueueOnCluster(this.redis, jobId, events, opts.deadline ?? Date.now() + (this.opts.retryForMs ?? 2000));
  }

  /**
   * During a failover writes fail for seconds (connection lost, CLUSTERDOWN, MOVED to the promoted
   * replica): retry the same add until the deadline. A success counts once the job is replicated.
   */
  private async enqueueOnCluster(cluster: Cluster, jobId: string, events: QueuedEvent[], deadline: number): Promise<void> {
    const started = Date.now();
    let firstError: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        // Not connected (yet, or any more): don't hand the add to BullMQ, which would wait for the connection.
        if (cluster.status !== 'ready') throw new Error(`Redis Cluster connection is ${cluster.status}`);
        await this.queue.add(JOB_NAME, jobPayload(events), { jobId });
        await waitForReplicas(cluster, this.slotKey, this.waitReplicas, deadline);
        if (attempt > 1) {
          this.opts.logger?.warn(
            `Queue write succeeded on attempt ${attempt} after ${Date.now() - started} ms (first error: ${message(firstError)})`,
          );
        }
        return;
      } catch (err) {
        firstError ??= err;
        const wait = retryDelay(attempt);
        if (Date.now() + wait + ATTEMPT_MS > deadline) {
          this.opts.logger?.warn(`Queue write failed after ${attempt} attempts in ${Date.now() - started} ms: ${message(err)}`);
          throw new QueueUnavailableError(err);
        }
        await sleep(wait);
      }
    }
  }

  async ping(): Promise<void> {
    // On a cluster, a read of a queue key: it answers only when the queue's own slot is served.
    if (isCluster(this.redis)) await this.redis.exists(this.slotKey);
    else await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => {});
    this.redis.disconnect();
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Pending {
  job: Job;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Waiting jobs read per look at the queue when a group has room left. */
const SCAN_WAITING = 200;
/** Looks per group, at most: 1,600 jobs (a full group of 20,000 events in the API's jobs of ~25 takes 4). */
const MAX_STRETCHES = 8;

/**
 * BullMQ runs one job per concurrency slot, and the limiter (QUEUE_RATE_LIMIT_MAX jobs per
 * QUEUE_RATE_LIMIT_DURATION_MS) counts every job a worker takes. Two things keep that from capping
 * event throughput:
 *  - jobs active at the same time share one store transaction;
 *  - a group with room left also takes jobs still waiting in the queue (newest first, first
 *    attempts only), applies them in the same transaction, and removes them once it committed.
 *    So under a backlog each limiter slot applies up to WORKER_FLUSH_MAX_EVENTS events.
 * A job completes (or is removed) only after the transaction that applied it has committed. A job
 * that another worker takes at the same moment is applied twice and counted once: applying is
 * idempotent per event id.
 */
export class BullmqEventConsumer implements EventConsumer {
  private worker: Worker | undefined;
  private connection: RedisClient;
  private queue: Queue;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private handler: GroupHandler | undefined;
  private closing = false;
  private scanning = false;
  /** Waiting jobs this worker took along in a group: id -> whether they were applied. */
  private taken = new Map<string, Promise<boolean>>();
  /** Jobs this worker claimed and has not finished. */
  private held = new Set<string>();
  private flushes = new Set<Promise<void>>();
  private takeAfter = 0;

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

  private async submit(job: Job): Promise<void> {
    // Already applied as part of another group of this worker: nothing left to do.
    const taken = this.taken.get(String(job.id));
    if (taken && (await taken)) return;
    this.held.add(String(job.id));
    try {
      await this.join(job);
    } finally {
      this.held.delete(String(job.id));
    }
  }

  private join(job: Job): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      const events = this.pending.reduce((n, p) => n + eventCount(p.job.data), 0);
      // Flush once half the slots wait (the other half gathers the next group while this one is
      // written) or the group is large enough; otherwise linger briefly so jobs fetched a moment
      // later share the transaction.
      const half = Math.max(1, Math.floor(this.q.concurrency / 2));
      if (this.closing || this.pending.length >= half || events >= this.opts.flushMaxEvents) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.lingerMs ?? 5);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const group = this.pending.splice(0);
    if (group.length === 0) return;
    const run = this.applyGroup(group).finally(() => this.flushes.delete(run));
    this.flushes.add(run);
  }

  private async applyGroup(group: Pending[]): Promise<void> {
    const room = this.opts.flushMaxEvents - group.reduce((n, p) => n + eventCount(p.job.data), 0);
    // After a failed group (the store is down?) only claimed jobs run, at the pace of their backoff.
    const extra = room > 0 && !this.closing && Date.now() >= this.takeAfter ? await this.takeWaiting(room) : [];
    const outcomes = new Map<string, (ok: boolean) => void>();
    for (const job of extra) this.taken.set(String(job.id), new Promise((r) => outcomes.set(String(job.id), r)));
    const jobs = [...group.map((p) => p.job), ...extra];
    let results: (Error | null)[];
    try {
      results = await this.handler!(jobs.map(claimed));
    } catch (err) {
      results = jobs.map(() => (err instanceof Error ? err : new Error(String(err))));
    }
    if (results.some((r) => r !== null)) this.takeAfter = Date.now() + Math.max(1000, this.q.backoffMs);
    group.forEach((p, i) => (results[i] ? p.reject(results[i]!) : p.resolve()));
    await Promise.all(
      extra.map(async (job, i) => {
        const ok = !results[group.length + i];
        // Applied: leave the queue. A job another worker holds meanwhile is locked and stays (it counts once anyway).
        if (ok) await this.queue.remove(String(job.id)).catch(() => 0);
        outcomes.get(String(job.id))!(ok);
        this.taken.delete(String(job.id));
      }),
    );
  }

  /** Waiting jobs on their first attempt, up to `room` events; one look at a time per worker. */
  private async takeWaiting(room: number): Promise<Job[]> {
    if (this.scanning) return [];
    this.scanning = true;
    try {
      // Workers start at different places in the waiting list, so they rarely take the same jobs,
      // and look at one stretch of SCAN_WAITING jobs after another (wrapping round) until the
      // group is full or every waiting job was looked at.
      const total = await this.queue.getWaitingCount();
      const first = Math.floor(Math.random() * total);
      const out: Job[] = [];
      const ids = new Set<string>(); // the list can shift between looks (other workers take jobs)
      let events = 0;
      for (let seen = 0; seen < total && seen < MAX_STRETCHES * SCAN_WAITING && events < room; ) {
        const at = (first + seen) % total;
        const end = Math.min(total, at + SCAN_WAITING);
        seen += end - at;
        const waiting = await this.queue.getJobs(['wait'], at, end - 1, false);
        for (const job of waiting) {
          // Only jobs still untouched: not started anywhere (processedOn), not held by this worker.
          const id = String(job.id);
          if (job.name !== JOB_NAME || job.attemptsMade > 0 || job.processedOn || this.taken.has(id) || this.held.has(id) || ids.has(id)) continue;
          const n = eventCount(job.data);
          if (events + n > room) {
            events = room; // full
            break;
          }
          out.push(job);
          ids.add(id);
          events += n;
        }
      }
      return out;
    } catch {
      return []; // taking along is an optimisation; the jobs stay queued
    } finally {
      this.scanning = false;
    }
  }

  async counts(): Promise<QueueCounts> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    return { waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0 };
  }

  async retryFailed(): Promise<number> {
    const failed = await this.queue.getFailedCount();
    if (failed > 0) await this.queue.retryJobs({ state: 'failed', count: 1000 });
    return failed;
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
    await Promise.race([Promise.all(this.flushes), new Promise((r) => setTimeout(r, 1000))]);
    await this.queue.close().catch(() => {});
    this.connection.disconnect();
  }
}

/** What the handler sees of a BullMQ job, with the retry budget from the job's own options. */
export function claimed(job: Job): ClaimedJob {
  const backoff = job.opts.backoff;
  const base = typeof backoff === 'number' ? backoff : (backoff?.delay ?? 0);
  const exponential = typeof backoff === 'object' && backoff?.type === 'exponential';
  const attemptsMade = job.attemptsMade;
  return {
    id: String(job.id),
    data: job.data,
    attemptsMade,
    maxAttempts: job.opts.attempts ?? 1,
    retryDelayMs: exponential ? backoffDelay(base, attemptsMade + 1) : base,
  };
}

function eventCount(data: unknown): number {
  const events = (data as { events?: unknown })?.events;
  return Array.isArray(events) ? events.length : 1;
}
