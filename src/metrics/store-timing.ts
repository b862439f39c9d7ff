// Store latency: a histogram of store calls by operation (the worker's applyEvents, the API's reads).
import { Histogram, type Registry } from 'prom-client';

export const STORE_DURATION = 'analytics_store_duration_seconds';

export function storeDurationHistogram(registry: Registry): Histogram<'operation'> {
  return new Histogram({
    name: STORE_DURATION,
    help: 'Duration of store calls, by operation (applyEvents in the workers; summary, breakdown, realtime, getSite, listSites in the API)',
    labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
}

/** Times one store call (failed calls too: a slow failure is what an operator looks for). */
export async function timed<T>(observe: (seconds: number) => void, call: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await call();
  } finally {
    observe((performance.now() - start) / 1000);
  }
}

/**
 * The store with its read methods timed. The other methods are the store's own (the object
 * inherits from it), so `this` inside them is unchanged for everything but the timed reads.
 */
export function withTimedReads<S extends object>(store: S, histogram: Histogram<'operation'>, methods: readonly (keyof S & string)[]): S {
  const timedStore = Object.create(store) as S;
  for (const name of methods) {
    const original = store[name];
    if (typeof original !== 'function') continue;
    const child = histogram.labels(name);
    const observe = (s: number) => child.observe(s);
    Object.defineProperty(timedStore, name, {
      value: (...args: unknown[]) => timed(observe, () => (original as (...a: unknown[]) => Promise<unknown>).apply(store, args)),
    });
  }
  return timedStore;
}
