// Prometheus metrics through the real API, the real queue and the real worker: GET /metrics parses
// (strictly) and its counters move by exactly the events sent — accepted, rejected by status, ignored
// bots, applied — in embedded mode (the worker thread's metrics in the API's scrape) and in BullMQ
// mode (the worker's own WORKER_METRICS_PORT). Access: the admin token, or METRICS_PUBLIC=true.
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { uuidv7 } from '../src/core/id.js';
import { BullmqEventQueue, JOB_NAME } from '../src/queue/bullmq.js';
import { parsePrometheus, type ParsedMetrics } from './helpers/prometheus.js';
import { REDIS_URL, serviceAvailable } from './helpers/services.js';
import { System, type Mode, type Proc, type SiteKeys } from './helpers/system.js';
import { until } from './helpers/wait.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const ADMIN = 'metrics-admin-token-4f1e9a0c7d2b83e6';
const BOT_UA = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

async function get(url: string, token?: string) {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, type: res.headers.get('content-type') };
}

async function scrape(url: string, token: string | undefined = ADMIN): Promise<{ text: string; m: ParsedMetrics }> {
  const res = await get(`${url}/metrics`, token);
  expect(res.status, res.text).toBe(200);
  expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
  return { text: res.text, m: parsePrometheus(res.text) };
}

/** The worker's metrics URL, from its start-up line (WORKER_METRICS_PORT=0 picks a free port). */
async function workerMetricsUrl(worker: Proc): Promise<string> {
  return (await worker.waitForLine(/Worker metrics on (http:\/\/\S+)\/metrics/))[1]!;
}

const modes: Mode[] = ['embedded', ...(redisUp ? (['bullmq'] as const) : [])];

describe.each(modes)('metrics: %s', (mode) => {
  let sys: System;
  let site: SiteKeys;
  /** Where the worker's metrics are: the API's own /metrics (embedded), or the worker's port. */
  let workerUrl: string;

  beforeAll(async () => {
    sys = await System.start({
      mode,
      env: { ADMIN_TOKEN: ADMIN, QUEUE_STATS_CACHE_SECONDS: '0', ...(mode === 'bullmq' ? { WORKER_METRICS_PORT: '0', WORKER_METRICS_HOST: '127.0.0.1' } : {}) },
    });
    site = await sys.createSite(`Metrics Site ${mode} Qx7`, undefined, { authorization: `Bearer ${ADMIN}` });
    workerUrl = mode === 'embedded' ? sys.url : await workerMetricsUrl(sys.workers[0]!);
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('refuses /metrics without the admin token (401) or with another (403), in the spec error shape', async () => {
    for (const url of new Set([sys.url, workerUrl])) {
      const none = await get(`${url}/metrics`);
      expect(none.status).toBe(401);
      expect(none.json).toEqual({ success: false, error: 'Unauthorized', message: expect.stringContaining('Bearer <ADMIN_TOKEN>') });
      const wrong = await get(`${url}/metrics`, 'not-the-token');
      expect(wrong.status).toBe(403);
      expect(wrong.json).toEqual({ success: false, error: 'Forbidden', message: 'Invalid admin token' });
      // A site's read key is no admin token either.
      expect((await get(`${url}/metrics`, site.read_key)).status).toBe(403);
    }
  });

  it('counts every event by its outcome, exactly', async () => {
    const before = (await scrape(sys.url)).m;
    const workerBefore = mode === 'embedded' ? before : (await scrape(workerUrl)).m;
    const event = (body: object, headers: Record<string, string> = {}, key = site.api_key) =>
      sys.request('POST', '/api/event', { body, headers: { 'x-api-key': key, 'user-agent': BROWSER_UA, ...headers } });
    const good = (i: number) => ({ site_id: site.site_id, event_type: 'pageview', path: `/m/${i}`, user_id: `u${i}` });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await event(good(i))).status);
    for (let i = 0; i < 2; i++) statuses.push((await event({ site_id: site.site_id, event_type: 'pageview', path: '/bot' }, { 'user-agent': BOT_UA })).status);
    expect(statuses).toEqual(Array(9).fill(202));
    // Refused: 2 × 400 (no path), 1 × 401 (unknown key), 1 × 403 (another site's id), 1 × 413 (body too large).
    expect((await event({ site_id: site.site_id, event_type: 'pageview', user_id: 'x' })).status).toBe(400);
    expect((await event({ site_id: site.site_id, user_id: 'x' })).status).toBe(400);
    expect((await event(good(99), {}, 'ak_unknown')).status).toBe(401);
    expect((await event({ ...good(98), site_id: 'someone-else' })).status).toBe(403);
    expect((await event({ ...good(97), path: `/${'x'.repeat(40_000)}` })).status).toBe(413);
    // A batch: 3 queued and 2 refused (400) in one 202; then a batch of 4 with an unknown key (401 each).
    const batch = await sys.request('POST', '/api/event/batch', {
      body: { events: [good(10), good(11), { site_id: site.site_id }, good(12), { event_type: 'pageview' }] },
      headers: { 'x-api-key': site.api_key },
    });
    expect(batch.status).toBe(202);
    expect(batch.json).toMatchObject({ accepted: 3, refused: 2 });
    const refusedBatch = await sys.request('POST', '/api/event/batch', { body: { events: [good(1), good(2), good(3), good(4)] }, headers: { 'x-api-key': 'ak_unknown' } });
    expect(refusedBatch.status).toBe(401);

    const applied = (m: ParsedMetrics) => m.value('analytics_events_applied_total') ?? 0;
    let worker!: ParsedMetrics;
    await until(async () => {
      worker = (await scrape(workerUrl)).m;
      return applied(worker) - applied(workerBefore) >= 12;
    }, 'the worker to apply the 12 queued events');
    const after = (await scrape(sys.url)).m;
    const delta = (name: string, labels?: Record<string, string>, a = after, b = before) => (a.value(name, labels) ?? 0) - (b.value(name, labels) ?? 0);

    // API: events answered 2xx (ignored bots included), ignored per reason, refused per status.
    expect(delta('analytics_events_accepted_total')).toBe(12);
    expect(delta('analytics_events_ignored_total', { reason: 'bot' })).toBe(2);
    expect(delta('analytics_events_rejected_total', { status: '400' })).toBe(4);
    expect(delta('analytics_events_rejected_total', { status: '401' })).toBe(5);
    expect(delta('analytics_events_rejected_total', { status: '403' })).toBe(1);
    expect(delta('analytics_events_rejected_total', { status: '413' })).toBe(1);
    expect(delta('analytics_events_rejected_total', { status: '429' })).toBe(0);
    expect(delta('analytics_events_rejected_total', { status: '503' })).toBe(0);
    // Worker: every queued event applied once (bots as ignored), each with its lag, none twice.
    expect(delta('analytics_events_applied_total', {}, worker, workerBefore)).toBe(12);
    // A BullMQ worker may apply a job twice (taken along from the waiting list while also fetched):
    // the second time its events are duplicates, and every event given to the store has its lag.
    const duplicates = delta('analytics_events_duplicate_total', {}, worker, workerBefore);
    if (mode === 'embedded') expect(duplicates).toBe(0);
    expect(delta('analytics_event_lag_seconds_count', {}, worker, workerBefore)).toBe(12 + duplicates);
    expect(delta('analytics_worker_batch_events_sum', {}, worker, workerBefore)).toBe(12 + duplicates);
    expect(delta('analytics_worker_batch_duration_seconds_count', {}, worker, workerBefore)).toBeGreaterThan(0);
    expect(delta('analytics_store_duration_seconds_count', { operation: 'applyEvents' }, worker, workerBefore)).toBeGreaterThan(0);
    expect(worker.value('analytics_worker_job_failures_total', { outcome: 'failed' })).toBe(0);
    // Per-route request durations, by route pattern and status.
    const http = (route: string, status: string) => delta('analytics_http_request_duration_seconds_count', { method: 'POST', route, status_code: status });
    expect(http('/api/event', '202')).toBe(9);
    expect(http('/api/event', '400')).toBe(2);
    expect(http('/api/event', '413')).toBe(1);
    expect(http('/api/event/batch', '202')).toBe(1);
    expect(http('/api/event/batch', '401')).toBe(1);
    // The numbers agree with the statistics: 7 + 3 page views counted, the bots not.
    const stats = await sys.statsWhen(site, '', (d) => d.total_views >= 10);
    expect(stats.total_views).toBe(10);
  });

  it('exports the queue, the workers, store reads and the process metrics', async () => {
    await sys.stats(site, '');
    const { m } = await scrape(sys.url);
    expect(m.types.get('analytics_queue_jobs')).toBe('gauge');
    for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(m.value('analytics_queue_jobs', { state })).toBeGreaterThanOrEqual(0);
    expect(m.value('analytics_queue_up')).toBe(1);
    expect(m.value('analytics_queue_oldest_waiting_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(m.value('analytics_workers_alive')).toBe(1);
    expect(m.value('analytics_store_duration_seconds_count', { operation: 'summary' })).toBeGreaterThan(0);
    expect(m.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(m.types.get('analytics_http_request_duration_seconds')).toBe('histogram');
    if (mode === 'embedded') {
      // One scrape shows the worker thread's metrics too.
      expect(m.value('analytics_events_applied_total')).toBeGreaterThan(0);
    } else {
      // The API applies nothing: the worker's own metrics are on its port, with its process metrics.
      expect(m.value('analytics_events_applied_total')).toBeUndefined();
      const w = (await scrape(workerUrl)).m;
      expect(w.value('analytics_events_applied_total')).toBeGreaterThan(0);
      expect(w.value('process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(w.value('analytics_http_request_duration_seconds_count')).toBeUndefined();
    }
  });

  it('has no site id, key, path or raw URL anywhere in the metrics', async () => {
    await sys.request('GET', `/api/stats?site_id=${site.site_id}&date=2026-01-01`, { headers: { authorization: `Bearer ${site.read_key}` } });
    await sys.request('GET', `/nothing/${site.site_id}`);
    for (const url of new Set([sys.url, workerUrl])) {
      const { text, m } = await scrape(url);
      for (const secret of [site.site_id, site.api_key, site.read_key, '/m/', 'u1', '2026-01-01', 'nothing']) expect(text, secret).not.toContain(secret);
      const labelNames = new Set(m.samples.flatMap((s) => Object.keys(s.labels)));
      for (const name of ['site', 'site_id', 'path', 'url']) expect(labelNames.has(name), name).toBe(false);
      for (const s of m.find('analytics_http_request_duration_seconds_count')) {
        expect(s.labels.route, 'a route pattern').toMatch(/^\/[\w/:.*-]*$/);
        expect(s.labels.route).not.toContain('?');
      }
    }
  });

  it('counts failed attempts and the failed set: a poison job with 2 attempts', async () => {
    const w0 = (await scrape(workerUrl)).m;
    const failures = (m: ParsedMetrics, outcome: string) => m.value('analytics_worker_job_failures_total', { outcome }) ?? 0;
    // A payload that is not a list of events: it fails every attempt.
    if (mode === 'bullmq') {
      const config = loadConfig(sys.env);
      const producer = new BullmqEventQueue(config.redis!, config.queue);
      try {
        await producer.queue.waitUntilReady();
        await producer.queue.add(JOB_NAME, { events: 'not-a-list' }, { jobId: uuidv7(), attempts: 2, backoff: { type: 'exponential', delay: 100 } });
      } finally {
        await producer.close();
      }
    } else {
      const db = new Database(path.join(sys.env.DATA_DIR!, 'analytics.db'));
      try {
        db.prepare(
          `INSERT INTO queue_jobs (batch_id, payload, event_count, state, run_at_ms, created_at_ms, max_attempts, backoff_ms) VALUES (?, ?, 1, 'waiting', ?, ?, 2, 100)`,
        ).run(uuidv7(), JSON.stringify({ v: 2, events: 'not-a-list' }), Date.now(), Date.now());
      } finally {
        db.close();
      }
    }
    let w = w0;
    await until(async () => {
      w = (await scrape(workerUrl)).m;
      return failures(w, 'failed') - failures(w0, 'failed') >= 1;
    }, 'the poison job to fail for good');
    expect(failures(w, 'retry') - failures(w0, 'retry')).toBe(1);
    expect(failures(w, 'failed') - failures(w0, 'failed')).toBe(1);
    // The queue moves it to its failed set once the worker's attempt has ended.
    await until(async () => (await scrape(sys.url)).m.value('analytics_queue_jobs', { state: 'failed' }) === 1, 'one job in the failed set');
  });

  it(mode === 'embedded' ? 'is ready with its worker thread' : 'is ready with its worker process', async () => {
    const res = await sys.request('GET', '/api/ready');
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      success: true,
      data: {
        status: 'ready',
        checks: {
          queue: { ok: true, kind: mode },
          store: { ok: true, kind: 'sqlite' },
          workers: { ok: true, seen: 1, timeout_seconds: 30 },
          queue_age: { ok: true, max_seconds: 300 },
        },
      },
    });
    // A thread reports as pid-threadId.
    if (mode === 'embedded') expect(res.json.data.checks.workers.last_worker).toMatch(/\/\d+-\d+$/);
  });
});

describe('METRICS_PUBLIC=true', () => {
  const mode: Mode = redisUp ? 'bullmq' : 'embedded';
  let sys: System;
  beforeAll(async () => {
    sys = await System.start({
      mode,
      env: { ADMIN_TOKEN: ADMIN, METRICS_PUBLIC: 'true', ...(mode === 'bullmq' ? { WORKER_METRICS_PORT: '0', WORKER_METRICS_HOST: '127.0.0.1' } : {}) },
    });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it(`serves the metrics without a token (${mode}${mode === 'bullmq' ? ': the API and the worker port' : ''})`, async () => {
    const urls = [sys.url, ...(mode === 'bullmq' ? [await workerMetricsUrl(sys.workers[0]!)] : [])];
    for (const url of urls) {
      const { m } = await scrape(url, undefined);
      expect(m.types.size).toBeGreaterThan(10);
    }
    // Site creation still needs the token: METRICS_PUBLIC opens /metrics only.
    expect((await sys.request('POST', '/api/site/create', { body: { name: 'x' } })).status).toBe(401);
  });
});
