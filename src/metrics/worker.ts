// A worker's metrics: what it applied, how large and how long its groups were, how far behind
// ingestion it runs (received → applied), its store latency and its failed job attempts.
import { Counter, Histogram, type Registry } from 'prom-client';
import { RequestHistogram, type HistogramSeries } from './request-histogram.js';
import { storeDurationHistogram } from './store-timing.js';

export class WorkerMetrics {
  readonly applied: Counter;
  readonly duplicates: Counter;
  readonly setAside: Counter;
  readonly batchEvents: Histogram;
  readonly batchDuration: Histogram;
  readonly lag: RequestHistogram<never>;
  private lagSeries: HistogramSeries;
  readonly storeDuration: Histogram<'operation'>;
  readonly jobFailures: Counter<'outcome'>;
  readonly heartbeatFailures: Counter;
  private applyTimer: Histogram.Internal<'operation'>;
  private retried: Counter.Internal;
  private failedForGood: Counter.Internal;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.applied = new Counter({
      name: 'analytics_events_applied_total',
      help: 'Events a worker applied to the store for the first time (counted, or recorded as ignored); replays are analytics_events_duplicate_total',
      registers,
    });
    this.duplicates = new Counter({
      name: 'analytics_events_duplicate_total',
      help: 'Events a worker found already applied (a retried or replayed job, a resent event_id): skipped, counted once',
      registers,
    });
    this.setAside = new Counter({
      name: 'analytics_events_set_aside_total',
      help: 'Events a worker could never apply and kept in rejected_events (invalid, refused by the store, unknown site after the last attempt)',
      registers,
    });
    this.batchEvents = new Histogram({
      name: 'analytics_worker_batch_events',
      help: 'Events per group a worker applied in one store transaction',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers,
    });
    this.batchDuration = new Histogram({
      name: 'analytics_worker_batch_duration_seconds',
      help: 'Time a worker spent on one group of jobs, from taking it to its result (transaction, isolation of bad events, rejections)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    // Observed once per event (thousands per group): the cheap histogram, rendered like prom-client's.
    this.lag = new RequestHistogram(
      registry,
      'analytics_event_lag_seconds',
      "End-to-end lag of each event of a completed job, from the API's receipt (received_at) to the store's commit (a job applied again counts again)",
      [],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400],
    );
    this.lagSeries = this.lag.child({});
    this.storeDuration = storeDurationHistogram(registry);
    this.jobFailures = new Counter({
      name: 'analytics_worker_job_failures_total',
      help: 'Failed job attempts: outcome="retry" (tried again after its backoff) or "failed" (its last attempt: in the failed set / dead-letter queue)',
      labelNames: ['outcome'],
      registers,
    });
    this.heartbeatFailures = new Counter({
      name: 'analytics_worker_heartbeat_failures_total',
      help: "Heartbeats a worker could not write to its queue's backend",
      registers,
    });
    this.applyTimer = this.storeDuration.labels('applyEvents');
    this.retried = this.jobFailures.labels('retry');
    this.failedForGood = this.jobFailures.labels('failed');
    this.retried.inc(0);
    this.failedForGood.inc(0);
  }

  observeApply(seconds: number): void {
    this.applyTimer.observe(seconds);
  }

  /**
   * A group's outcome: its size (events given to the store), events applied and skipped, and the
   * lag of each event of its completed jobs.
   */
  recordGroup(result: { applied: number; duplicates: number }, size: number, receivedAt: readonly number[], committedAt: number): void {
    this.applied.inc(result.applied);
    this.duplicates.inc(result.duplicates);
    this.batchEvents.observe(size);
    for (const r of receivedAt) this.lagSeries.observe(Math.max(0, committedAt - r) / 1000);
  }

  jobFailed(final: boolean): void {
    (final ? this.failedForGood : this.retried).inc();
  }
}
