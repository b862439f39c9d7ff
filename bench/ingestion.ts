// Ingestion: the tracker's request (a text/plain JSON body with `url`, `referrer`, `screen_width`,
// `language`, `event_id`; the key in the query; a browser user agent; no user_id) from 50
// connections, with everything on: bot check, visitor hash with the stored salt, country lookup
// (the client IP from X-Forwarded-For behind one trusted proxy), the Redis rate limit. Next to the
// baseline in the same run: a bare node:http server doing JSON + zod + one LPUSH per request.
// Also: the server's CPU time per request, and what each ingestion step costs in-process.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { newSite } from '../src/core/site.js';
import { loadCountryDb } from '../src/enrich/index.js';
import { IngestPipeline } from '../src/ingest/pipeline.js';
import { SaltCache } from '../src/ingest/salts.js';
import { eventInputSchema } from '../src/ingest/schema.js';
import type { SaltStore } from '../src/store/port.js';
import { prepareEvent } from '../src/worker/prepare.js';
import { BROWSERS, IPS } from '../test/helpers/enrich-table.js';
import { tempDir } from '../test/helpers/stores.js';
import { load, peakRssMb, ratio, round, type LoadRequest, type LoadResult } from './lib.js';
import { target, type Log, type PartResult, type Sizes } from './part.js';
import { apiFlags, countJobs, cpuMs, createSite, obliterate, spawnTsx, startApi, type Proc } from './processes.js';
import { trackerTraffic } from './traffic.js';

const REFERRERS = ['https://www.google.com/', 'https://news.ycombinator.com/', undefined, 'https://www.reddit.com/r/selfhosted/', undefined, 'https://duckduckgo.com/'];
const LANGUAGES = ['en-US', 'de-DE', 'fr-FR', 'pt-BR', 'ja-JP'];
const PUBLIC_IPS = IPS.filter((r) => r.country !== null).map((r) => r.ip);

/** What a browser's tracker sends, for `n` different visitors (user agent, IP, page, referrer). */
function trackerRequests(siteId: string, apiKey: string, n = 16): LoadRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    path: `/api/event?api_key=${encodeURIComponent(apiKey)}`,
    headers: {
      'content-type': 'text/plain;charset=UTF-8',
      'user-agent': BROWSERS[i % BROWSERS.length]!.ua,
      'accept-language': `${LANGUAGES[i % LANGUAGES.length]},en;q=0.8`,
      'x-forwarded-for': PUBLIC_IPS[i % PUBLIC_IPS.length]!,
      origin: 'https://bench.example.com',
    },
    body: JSON.stringify({
      site_id: siteId,
      event_type: 'pageview',
      url: `https://bench.example.com/blog/post-${i}${i % 4 === 0 ? '?utm_source=newsletter&utm_medium=email&utm_campaign=launch' : ''}`,
      referrer: REFERRERS[i % REFERRERS.length],
      screen_width: [390, 1280, 1920, 768][i % 4],
      language: LANGUAGES[i % LANGUAGES.length],
      event_id: crypto.randomUUID(),
    }),
  }));
}

/** A warm-up, then the measured run with the CPU time the server process used during it. */
async function measured(proc: Proc, url: string, requests: LoadRequest[], sizes: Sizes): Promise<LoadResult & { warmupOk: number; cpuUsPerRequest: number }> {
  const warm = await load(url, { requests, seconds: sizes.warmupSeconds });
  const cpu0 = cpuMs(proc.pid);
  const r = await load(url, { requests, seconds: sizes.ingestSeconds });
  const cpu = cpuMs(proc.pid) - cpu0;
  return { ...r, warmupOk: warm.ok, cpuUsPerRequest: round((cpu * 1000) / Math.max(1, r.requests), 1) };
}

export async function ingestionPart(o: { redisUrl: string; sizes: Sizes; log: Log }): Promise<PartResult> {
  const bodySite = { site_id: 'bench', api_key: 'wa_unused' };

  o.log('ingestion: baseline node:http + zod + LPUSH');
  const baseline = spawnTsx('bench/baseline-server.ts', { REDIS_URL: o.redisUrl });
  const baseUrl = (await baseline.waitForLine(/baseline listening on (http:\/\/\S+)/))[1]!;
  const base = await measured(baseline, baseUrl, trackerRequests(bodySite.site_id, bodySite.api_key), o.sizes);
  await baseline.stop();
  const cleaner = new Redis(o.redisUrl);
  await cleaner.del('baseline:events');
  cleaner.disconnect();

  o.log('ingestion: the API (Fastify, key check, steps, Redis rate limit, batching into BullMQ)');
  const queueName = `bench_ingest_${Date.now()}`;
  const dataDir = tempDir('bench-ingest-');
  const { proc, url } = await startApi({
    REDIS_URL: o.redisUrl,
    QUEUE_NAME: queueName,
    DATA_DIR: dataDir,
    TRUST_PROXY: '1',
    // The limit is checked in Redis on every request, set high enough never to refuse one.
    RATE_LIMIT_MAX: '1000000000',
    RATE_LIMIT_WINDOW_SECONDS: '60',
  }, apiFlags());
  const site = await createSite(url);
  const api = await measured(proc, url, trackerRequests(site.site_id, site.api_key), o.sizes);
  const rss = peakRssMb(proc.pid) ?? NaN;
  await proc.stop();
  const jobs = await countJobs(o.redisUrl, queueName);
  const accepted = api.ok + api.warmupOk;
  await obliterate(o.redisUrl, queueName);
  fs.rmSync(dataDir, { recursive: true, force: true });

  // The embedded mode, for information: API and worker thread share this process's two cores.
  o.log('ingestion: embedded mode (SQLite queue, worker thread applying)');
  const embeddedDir = tempDir('bench-ingest-embedded-');
  const emb = await startApi({ DATA_DIR: embeddedDir, TRUST_PROXY: '1' });
  const embSite = await createSite(emb.url);
  const embedded = await measured(emb.proc, emb.url, trackerRequests(embSite.site_id, embSite.api_key), o.sizes);
  await emb.proc.stop();
  fs.rmSync(embeddedDir, { recursive: true, force: true });

  const steps = await stepCosts(trackerRequests('bench', 'k', 64));
  const r = ratio(api.rps, base.rps);
  const errors = api.errors + api.non2xx;
  const stepLine = steps.api.map(([name, us]) => `${name} ${us}`).join(', ');
  return {
    name: 'Ingestion: POST /api/event with the tracker payload, 50 connections',
    figures: {
      baseline_rps: base.rps,
      baseline_p99_ms: base.p99,
      baseline_cpu_us_per_request: base.cpuUsPerRequest,
      api_rps: api.rps,
      api_p50_ms: api.p50,
      api_p99_ms: api.p99,
      api_errors: errors,
      api_ratio_to_baseline: r,
      api_cpu_us_per_request: api.cpuUsPerRequest,
      api_peak_rss_mb: rss,
      api_events_per_job: round(accepted / Math.max(1, jobs), 1),
      embedded_rps: embedded.rps,
      embedded_p99_ms: embedded.p99,
      embedded_errors: embedded.errors + embedded.non2xx,
      ...Object.fromEntries(steps.api.map(([name, us]) => [`step_${name}_us`, us])),
      steps_total_us: steps.total,
      worker_derive_us: steps.derive,
    },
    lines: [
      `baseline (node:http + JSON + zod + one LPUSH per request): ${base.rps} req/s, p50 ${base.p50} ms, p99 ${base.p99} ms, ${base.cpuUsPerRequest} µs CPU per request`,
      `API, BullMQ on Redis, everything on: ${api.rps} req/s (${r}× baseline), p50 ${api.p50} ms, p99 ${api.p99} ms, errors ${errors}, ${api.cpuUsPerRequest} µs CPU per request`,
      `  ${accepted} events in ${jobs} jobs (${round(accepted / Math.max(1, jobs), 1)} events per job); API peak RSS ${rss} MB`,
      `  ingestion steps in-process, µs per event: ${stepLine} — ${steps.total} µs in all`,
      `  worker-side derivation (browser/OS/device from the user agent, source, screen class), µs per event: ${steps.derive}`,
      `API embedded (SQLite queue, its worker thread applying on the same 2 cores): ${embedded.rps} req/s, p99 ${embedded.p99} ms, errors ${embedded.errors + embedded.non2xx}`,
    ],
    targets: [
      target('ingestion ≥ 1.0× baseline req/s (tracker payload, all steps, Redis rate limit)', r >= 1, `${r}×`),
      target('ingestion p99 ≤ 5 ms at 50 connections', api.p99 <= 5, `${api.p99} ms`),
      target('ingestion 0 errors', errors === 0, errors),
    ],
  };
}

/**
 * µs per event of each step of the API's ingestion pipeline (the real steps, each timed where it
 * runs), of the body's validation, and of the worker's derivation of the remaining dimensions.
 */
async function stepCosts(requests: LoadRequest[]): Promise<{ api: [string, number][]; total: number; derive: number }> {
  loadCountryDb();
  const salts: SaltStore = { listSalts: async () => [], ensureSalt: async (_day, salt) => salt, deleteSaltsBefore: async () => 0 };
  const pipeline = new IngestPipeline(new SaltCache(salts), { retentionDays: 30, maxFutureSkewMs: 60_000 });
  const spent = new Map<string, number>([['validate (zod)', 0]]);
  // The pipeline's steps, each wrapped in a timer (bench only; the API runs them unwrapped).
  const steps = (pipeline as unknown as { steps: { name: string; run: (d: unknown) => unknown }[] }).steps;
  for (const step of steps) {
    const run = step.run;
    spent.set(step.name, 0);
    step.run = (d) => {
      const t = performance.now();
      const out = run(d);
      if (out instanceof Promise) return out.finally(() => spent.set(step.name, spent.get(step.name)! + performance.now() - t));
      spent.set(step.name, spent.get(step.name)! + performance.now() - t);
      return out;
    };
  }
  const site = newSite('bench', 'Bench', 'UTC', Date.now()).site;
  const inputs = requests.map((r) => ({
    body: JSON.parse(r.body) as unknown,
    ip: r.headers['x-forwarded-for']!,
    userAgent: r.headers['user-agent'],
    acceptLanguage: r.headers['accept-language'],
  }));
  const runs = 40_000;
  for (let round_ = 0; round_ < 2; round_++) {
    // The first round warms up (JIT, the user-agent cache, the salt of the day).
    for (const [k] of spent) spent.set(k, 0);
    for (let i = 0; i < runs; i++) {
      const input = inputs[i % inputs.length]!;
      const t = performance.now();
      eventInputSchema.safeParse(input.body);
      spent.set('validate (zod)', spent.get('validate (zod)')! + performance.now() - t);
      await pipeline.run({ ...input, site, now: Date.now() });
    }
  }
  const api = [...spent].map(([name, ms]) => [name, round((ms * 1000) / runs, 2)] as [string, number]);
  // The worker's side: prepareEvent derives browser, OS, device, source and screen from what the API queued.
  const events = [...trackerTraffic({ siteId: 'bench', events: 20_000, visitors: 2000, paths: 500, referrers: 100, countries: 50, from: Date.now() - 3_600_000, to: Date.now() })];
  for (const e of events) prepareEvent(e, site);
  const t = performance.now();
  for (const e of events) prepareEvent(e, site);
  const derive = round(((performance.now() - t) * 1000) / events.length, 2);
  return { api, total: round(api.reduce((s, [, us]) => s + us, 0), 2), derive };
}
