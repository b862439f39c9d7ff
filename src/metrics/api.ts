// The API's metrics: ingestion counters, per-route request durations, store read latency. Ingestion
// counts events (not requests): an /api/event request is one event, a batch counts each of its events.
import { Counter, Histogram, type Registry } from 'prom-client';
import { RequestHistogram } from './request-histogram.js';
import { IGNORE_REASONS, type IgnoreReason } from '../core/event.js';
import { storeDurationHistogram } from './store-timing.js';

export class ApiMetrics {
  readonly accepted: Counter;
  readonly ignored: Counter<'reason'>;
  readonly rejected: Counter<'status'>;
  readonly httpDuration: RequestHistogram<'method' | 'route' | 'status_code'>;
  readonly storeDuration: Histogram<'operation'>;
  /** Label children made once: the hot path does no label bookkeeping of its own. */
  private ignoredBy = new Map<IgnoreReason, Counter.Internal>();
  private rejectedBy = new Map<number, Counter.Internal>();

  constructor(readonly registry: Registry) {
    this.accepted = new Counter({
      name: 'analytics_events_accepted_total',
      help: 'Events answered 2xx by the ingestion endpoints: durably queued (ignored ones included; see analytics_events_ignored_total)',
      registers: [registry],
    });
    this.ignored = new Counter({
      name: 'analytics_events_ignored_total',
      help: 'Events answered 2xx and queued but not counted as traffic, by the reason the ingestion steps gave (bot)',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.rejected = new Counter({
      name: 'analytics_events_rejected_total',
      help: 'Events refused by the ingestion endpoints, by HTTP status (400, 401, 403, 413, 415, 429, 503, 500); a request whose events were never read counts as one',
      labelNames: ['status'],
      registers: [registry],
    });
    // On every request: the cheap histogram (see request-histogram.ts), same name, labels and rendering.
    this.httpDuration = new RequestHistogram(
      registry,
      'analytics_http_request_duration_seconds',
      'HTTP request durations by method, route pattern (never the raw URL) and status code',
      ['method', 'route', 'status_code'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    this.storeDuration = storeDurationHistogram(registry);
    for (const reason of IGNORE_REASONS) {
      this.ignoredBy.set(reason, this.ignored.labels(reason));
      // Present at 0 from the start, so rate() and increase() see the first one.
      this.ignored.labels(reason).inc(0);
    }
    for (const status of [400, 401, 403, 413, 429, 503]) this.rejectedChild(status).inc(0);
  }

  /** `count` events answered 2xx, of which those with an ignore reason were ignored. */
  acceptEvent(ignored: IgnoreReason | undefined): void {
    this.accepted.inc();
    if (ignored) this.ignoredBy.get(ignored)?.inc();
  }

  rejectEvents(status: number, count = 1): void {
    if (count > 0) this.rejectedChild(status).inc(count);
  }

  private rejectedChild(status: number): Counter.Internal {
    let child = this.rejectedBy.get(status);
    if (!child) {
      child = this.rejected.labels(String(status));
      this.rejectedBy.set(status, child);
    }
    return child;
  }
}
