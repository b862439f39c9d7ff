// Queue depth and worker liveness as gauges, read at scrape time from the queue's backend through a
// short cache (QUEUE_STATS_CACHE_SECONDS), so a scraper cannot hammer Redis, SQS or the SQLite file.
// Exported by the API (every API server shows the same shared values: aggregate with max, not sum).
import { Gauge, type Registry } from 'prom-client';
import type { QueueSnapshot } from '../queue/inspect.js';
import type { WorkerHeartbeat } from '../queue/heartbeat.js';
import { withTimeout } from './cache.js';

export interface QueueStatsSource {
  /** Cached. */
  queue(): Promise<QueueSnapshot>;
  /** Cached: workers seen within WORKER_HEARTBEAT_TIMEOUT_SECONDS. */
  workers(): Promise<WorkerHeartbeat[]>;
}

/**
 * `oldestAge`: whether the queue can tell the age of its oldest waiting job (not SQS). A value that
 * could not be read is NaN (and analytics_queue_up 0), never a reassuring 0.
 */
export function registerQueueGauges(registry: Registry, source: QueueStatsSource, opts: { timeoutMs: number; oldestAge: boolean; now?: () => number }): void {
  const now = opts.now ?? Date.now;
  const registers = [registry];
  // One read per scrape, shared by the gauges below (their collect() run one after another).
  let pending: { at: number; p: Promise<QueueSnapshot | undefined> } | undefined;
  const snapshot = () => {
    const t = now();
    if (!pending || t - pending.at > 1000) pending = { at: t, p: withTimeout(source.queue(), opts.timeoutMs, 'queue').catch(() => undefined) };
    return pending.p;
  };
  new Gauge({
    name: 'analytics_queue_up',
    help: '1 when the queue answered the read of its counts for this scrape, else 0',
    registers,
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'analytics_queue_jobs',
    help: 'Jobs in the queue by state: waiting, active (held by a worker; SQS: in flight, retries included), delayed (waiting for a retry), failed (failed set / dead-letter queue). A job carries one ingestion batch of events',
    labelNames: ['state'],
    registers,
    async collect() {
      const s = await snapshot();
      this.reset();
      if (!s) return;
      for (const [state, n] of Object.entries(s.jobs)) this.labels(state).set(n);
    },
  });
  if (opts.oldestAge) {
    new Gauge({
      name: 'analytics_queue_oldest_waiting_age_seconds',
      help: 'Age of the oldest job waiting to be taken, from the time it was queued (0 when none waits). Not exported on SQS, whose API does not tell: use CloudWatch ApproximateAgeOfOldestMessage',
      registers,
      async collect() {
        const s = await snapshot();
        if (!s || s.oldestWaitingSince === undefined) this.set(NaN);
        else this.set(s.oldestWaitingSince === null ? 0 : Math.max(0, (now() - s.oldestWaitingSince) / 1000));
      },
    });
  }
  new Gauge({
    name: 'analytics_workers_alive',
    help: 'Workers whose heartbeat was seen within WORKER_HEARTBEAT_TIMEOUT_SECONDS',
    registers,
    async collect() {
      const seen = await withTimeout(source.workers(), opts.timeoutMs, 'heartbeats').catch(() => undefined);
      this.set(seen ? seen.length : NaN);
    },
  });
}
