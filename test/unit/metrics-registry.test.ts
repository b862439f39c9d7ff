// The metrics plumbing that needs no server: merging the embedded thread's registry into the API's,
// the scrape cache, the access rule, and the per-event ingestion counters.
import { describe, expect, it } from 'vitest';
import { Histogram, register } from 'prom-client';
import { refuseMetrics } from '../../src/metrics/access.js';
import { ApiMetrics } from '../../src/metrics/api.js';
import { CachedRead, withTimeout } from '../../src/metrics/cache.js';
import { createRegistry, mergedMetricsText } from '../../src/metrics/registry.js';
import { RequestHistogram } from '../../src/metrics/request-histogram.js';
import { WorkerMetrics } from '../../src/metrics/worker.js';
import { parsePrometheus } from '../helpers/prometheus.js';

describe('merging registries (API + embedded worker thread)', () => {
  it('keeps each side\'s metrics, sums the shared ones per label set, and keeps the process metrics', async () => {
    const api = new ApiMetrics(createRegistry({ processMetrics: true }));
    const worker = new WorkerMetrics(createRegistry({ processMetrics: false }));
    api.acceptEvent(undefined);
    api.acceptEvent('bot');
    api.storeDuration.labels('summary').observe(0.002);
    worker.observeApply(0.01);
    worker.recordGroup({ applied: 2, duplicates: 0 }, 2, [Date.now() - 1500, Date.now() - 500], Date.now());
    const text = await mergedMetricsText([await api.registry.getMetricsAsJSON(), await worker.registry.getMetricsAsJSON()]);
    const m = parsePrometheus(text);
    expect(m.value('analytics_events_accepted_total')).toBe(2);
    expect(m.value('analytics_events_ignored_total', { reason: 'bot' })).toBe(1);
    expect(m.value('analytics_events_applied_total')).toBe(2);
    expect(m.value('analytics_event_lag_seconds_count')).toBe(2);
    // One family, both processes' operations.
    expect(m.value('analytics_store_duration_seconds_count', { operation: 'summary' })).toBe(1);
    expect(m.value('analytics_store_duration_seconds_count', { operation: 'applyEvents' })).toBe(1);
    expect(m.types.get('analytics_store_duration_seconds')).toBe('histogram');
    // prom-client "omits" this one when aggregating several processes: here it is the API's own.
    expect(m.value('process_start_time_seconds')).toBeGreaterThan(0);
  });
});

describe('CachedRead', () => {
  it('reads at most once per ttl, shares a read in flight, and does not keep failures', async () => {
    let t = 0;
    let reads = 0;
    let fail = false;
    const c = new CachedRead(async () => {
      reads++;
      if (fail) throw new Error('down');
      return reads;
    }, 1000, () => t);
    expect(await Promise.all([c.get(), c.get(), c.get()])).toEqual([1, 1, 1]);
    t = 999;
    expect(await c.get()).toBe(1);
    t = 1000;
    fail = true;
    await expect(c.get()).rejects.toThrow('down');
    fail = false;
    expect(await c.get()).toBe(3);
    expect(reads).toBe(3);
  });

  it('withTimeout gives up, with what it waited for', async () => {
    await expect(withTimeout(new Promise(() => {}), 20, 'queue')).rejects.toThrow('queue: no answer in 20 ms');
    expect(await withTimeout(Promise.resolve(7), 20)).toBe(7);
  });
});

describe('who may read /metrics', () => {
  const token = '4f1e9a0c7d2b83e65a19c0d4b7e2f813';
  it('asks for the admin token: 401 without, 403 with another, in the spec error shape', () => {
    expect(refuseMetrics(undefined, { adminToken: token, public: false })).toEqual({
      status: 401,
      body: { success: false, error: 'Unauthorized', message: expect.stringContaining('Bearer <ADMIN_TOKEN>') },
    });
    expect(refuseMetrics('Bearer nope', { adminToken: token, public: false })?.status).toBe(403);
    expect(refuseMetrics(`Basic ${token}`, { adminToken: token, public: false })?.status).toBe(401);
    expect(refuseMetrics(`Bearer ${token}`, { adminToken: token, public: false })).toBeUndefined();
  });

  it('is open with METRICS_PUBLIC=true, and without an ADMIN_TOKEN (local use)', () => {
    expect(refuseMetrics(undefined, { adminToken: token, public: true })).toBeUndefined();
    expect(refuseMetrics(undefined, { adminToken: undefined, public: false })).toBeUndefined();
  });
});

describe('ApiMetrics', () => {
  it('starts the known series at 0 and counts refusals per event', async () => {
    const m = new ApiMetrics(createRegistry({ processMetrics: false }));
    let p = parsePrometheus(await m.registry.metrics());
    for (const status of ['400', '401', '403', '413', '429', '503']) expect(p.value('analytics_events_rejected_total', { status })).toBe(0);
    expect(p.value('analytics_events_ignored_total', { reason: 'bot' })).toBe(0);
    m.rejectEvents(400, 3);
    m.rejectEvents(415);
    m.rejectEvents(503, 0);
    p = parsePrometheus(await m.registry.metrics());
    expect(p.value('analytics_events_rejected_total', { status: '400' })).toBe(3);
    expect(p.value('analytics_events_rejected_total', { status: '415' })).toBe(1);
    expect(p.value('analytics_events_rejected_total', { status: '503' })).toBe(0);
  });

  it('uses no global registry', async () => {
    const a = new ApiMetrics(createRegistry({ processMetrics: false }));
    const b = new ApiMetrics(createRegistry({ processMetrics: false }));
    a.acceptEvent(undefined);
    expect(parsePrometheus(await b.registry.metrics()).value('analytics_events_accepted_total')).toBe(0);
    // prom-client's global registry stays empty.
    expect(register.getSingleMetric('analytics_events_accepted_total')).toBeUndefined();
    expect(await register.getMetricsAsJSON()).toEqual([]);
  });
});

describe('RequestHistogram (the request path\'s histogram)', () => {
  it('renders exactly as prom-client\'s Histogram does for the same observations, and merges the same way', async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const ours = createRegistry({ processMetrics: false });
    const theirs = createRegistry({ processMetrics: false });
    const h = new RequestHistogram(ours, 'x_seconds', 'help text', ['route', 'status_code'], buckets);
    const p = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['route', 'status_code'], buckets, registers: [theirs] });
    const observations: [string, string, number][] = [
      ['/a', '200', 0.0005], ['/a', '200', 0.001], ['/a', '200', 0.05], ['/a', '404', 3], ['/b/:id', '200', 0.2], ['/a', '200', 1],
    ];
    for (const [route, status_code, v] of observations) {
      h.child({ route, status_code }).observe(v);
      p.labels(route, status_code).observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // The same JSON too (prom-client adds an empty exemplar field).
    const withoutExemplars = (json: Awaited<ReturnType<typeof theirs.getMetricsAsJSON>>) =>
      json.map((m) => ({ ...m, values: m.values.map((v) => Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'exemplar'))) }));
    expect(await ours.getMetricsAsJSON()).toEqual(withoutExemplars(await theirs.getMetricsAsJSON()));
    const merged = parsePrometheus(await mergedMetricsText([await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON()]));
    expect(merged.value('x_seconds_count', { route: '/a', status_code: '200' })).toBe(8);
    expect(merged.value('x_seconds_bucket', { route: '/a', status_code: '200', le: '0.001' })).toBe(4);
  });
});
