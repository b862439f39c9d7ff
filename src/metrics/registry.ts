// One Prometheus registry per process (or worker thread), built at start-up and passed to whatever
// records metrics: nothing here uses prom-client's global registry.
import { AggregatorRegistry, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * A new registry. `processMetrics`: prom-client's default metrics (CPU, memory, event loop lag, GC,
 * handles) — once per process; a worker thread shares its process's and leaves them out.
 */
export function createRegistry(opts: { processMetrics: boolean }): Registry {
  const registry = new Registry();
  if (opts.processMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Several registries' metrics (as `getMetricsAsJSON()` gives them) as one exposition text. Metrics of
 * the same name are summed per label set (counters and histograms of the API and its worker thread);
 * a metric only one side has passes through unchanged, whatever prom-client's aggregator says.
 */
export async function mergedMetricsText(parts: MetricsJson[]): Promise<string> {
  const seen = new Map<string, number>();
  for (const part of parts) for (const m of part) seen.set(m.name, (seen.get(m.name) ?? 0) + 1);
  const prepared = parts.map((part) => part.map((m) => (seen.get(m.name) === 1 ? { ...m, aggregator: 'first' as const } : m)));
  return AggregatorRegistry.aggregate(prepared).metrics();
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
