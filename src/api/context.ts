// What the route handlers need, built once by the server.
import type { Config } from '../config.js';
import type { EnqueueBatcher } from '../queue/batcher.js';
import type { EventQueue } from '../queue/port.js';
import type { IngestPipeline } from '../ingest/pipeline.js';
import type { SaltCache } from '../ingest/salts.js';
import type { SaltStore, SiteStore, StatsReader } from '../store/port.js';
import type { SiteCache } from '../store/site-cache.js';
import type { ApiMetrics } from '../metrics/api.js';
import type { MetricsJson } from '../metrics/registry.js';
import type { Readiness } from './readiness.js';

export interface ApiContext {
  config: Config;
  /** What the API uses of the store: sites, salts and the stats reader (never the event sink). */
  store: SiteStore & SaltStore & StatsReader & { readonly kind: string; ping(): Promise<void> };
  salts: SaltCache;
  ingest: IngestPipeline;
  queue: EventQueue;
  batcher: EnqueueBatcher;
  sites: SiteCache;
  /** Tells the other API servers that a site was created, changed or deleted (Redis pub/sub); no-op when alone. */
  announceSite: (siteId: string) => Promise<void>;
  now: () => number;
  metrics: ApiMetrics;
  /** Other registries of this process merged into /metrics: the embedded worker thread's. */
  metricsSources: (() => Promise<MetricsJson>)[];
  readiness: Readiness;
}

/** Milliseconds since the request arrived, for the spec's processing_time_ms. */
export function elapsed(reply: { elapsedTime: number }): number {
  return Math.round(reply.elapsedTime * 100) / 100;
}
