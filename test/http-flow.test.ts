// Events through the real API, the real queue and the real worker into exact statistics —
// in every deployment shape: embedded, BullMQ + SQLite, BullMQ + PostgreSQL, SQS (fauxqs) + SQLite. Also: worker logs,
// retries after a store failure, replayed jobs, and the cron.
import Database from 'better-sqlite3';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { newEventId, type QueuedEvent } from '../src/core/event.js';
import { addDays, dayNumber, hourStart, localDay, toLocalIso } from '../src/core/time.js';
import { prepareEvent } from '../src/worker/prepare.js';
import { BullmqEventQueue } from '../src/queue/bullmq.js';
import { createEventQueue } from '../src/queue/factory.js';
import { SqsEventQueue } from '../src/queue/sqs.js';
import { openStore } from '../src/store/index.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { TEST_CREDENTIALS } from './helpers/sqs.js';
import { dropSchema } from './helpers/stores.js';
import { CRON_ENTRY, System, sleep, spawnNode, type Mode, type SiteKeys } from './helpers/system.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const pgUp = await serviceAvailable('PostgreSQL', POSTGRES_URL);

interface Shape {
  name: string;
  mode: Mode;
  store: 'sqlite' | 'postgres';
}
const shapes: Shape[] = [
  { name: 'embedded queue + SQLite', mode: 'embedded', store: 'sqlite' },
  ...(redisUp ? [{ name: 'BullMQ + SQLite', mode: 'bullmq' as const, store: 'sqlite' as const }] : []),
  ...(redisUp && pgUp ? [{ name: 'BullMQ + PostgreSQL', mode: 'bullmq' as const, store: 'postgres' as const }] : []),
  { name: 'SQS (fauxqs) + SQLite', mode: 'sqs', store: 'sqlite' },
];

/** 12 paths with 1..12 views, three awkward paths, 23 viewers, 2 visitors who only sign up. */
function dataset(siteId: string) {
  const events: Record<string, unknown>[] = [];
  let n = 0;
  for (let i = 0; i < 12; i++) {
    for (let k = 0; k <= i; k++) events.push({ site_id: siteId, event_type: 'pageview', path: `/p${String(i).padStart(2, '0')}`, user_id: `u${n++ % 23}` });
  }
  for (const p of ['/a.b', '/$x', '/__proto__']) events.push({ site_id: siteId, event_type: 'pageview', path: p, user_id: `u${n++ % 23}` });
  events.push({ site_id: siteId, event_type: 'signup', path: '/signup', user_id: 'c1' });
  events.push({ site_id: siteId, event_type: 'signup', path: '/signup', user_id: 'c2' });
  return events;
}
const EXPECTED_TOP = Array.from({ length: 10 }, (_, i) => ({ path: `/p${String(11 - i).padStart(2, '0')}`, views: 12 - i }));

describe.each(shapes)('end to end: $name', (shape) => {
  let sys: System;
  let site: SiteKeys;
  let schema: string | undefined;
  const TZ = 'America/New_York';

  beforeAll(async () => {
    schema = shape.store === 'postgres' ? uniqueName('flow') : undefined;
    sys = await System.start({
      mode: shape.mode,
      env: { JOB_BACKOFF_MS: '300', ...(schema ? { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema } : {}) },
    });
    site = await sys.createSite('Flow Site', TZ);
  });
  afterAll(async () => {
    await sys?.stop();
    if (schema) await dropSchema(schema);
  });

  const day = () => localDay(Date.now(), TZ);

  it('turns concurrent events into exact totals, uniques and top 10', async () => {
    const events = dataset(site.site_id);
    for (let i = 0; i < events.length; i += 25) {
      const codes = await Promise.all(events.slice(i, i + 25).map((e) => sys.sendEvent(site, e).then((r) => r.status)));
      expect(new Set(codes)).toEqual(new Set([202]));
    }
    const data = await sys.statsWhen(site, `&date=${day()}`, (d) => d.total_views + d.unique_users_count >= 81 + 25);
    expect(data).toMatchObject({ site_id: site.site_id, date: day(), total_views: 81, unique_users_count: 25, top_paths: EXPECTED_TOP });
    // 25 visitors with one visit each; none a bounce (3 or 4 page views, or a custom event only).
    expect(data).toMatchObject({ visits: 25, bounce_rate: 0, views_per_visit: 3.24, ignored: {} });

    const last24h = (await sys.stats(site)).json.data;
    expect(last24h).toMatchObject({ total_views: 81, unique_users_count: 25, top_paths: EXPECTED_TOP });
    const range = (await sys.stats(site, `&from=${addDays(day(), -1)}&to=${day()}`)).json.data;
    expect(range).toMatchObject({ total_views: 81, unique_users_count: 25, top_paths: EXPECTED_TOP });
    expect(range.series).toEqual([
      { date: addDays(day(), -1), views: 0, unique_users: 0, visits: 0 },
      { date: day(), views: 81, unique_users: 25, visits: 25 },
    ]);
    // Nothing more arrives later: every event was counted once.
    await sleep(500);
    expect((await sys.stats(site, `&date=${day()}`)).json.data.total_views).toBe(81);
  });

  const totals = async () => {
    const d = (await sys.stats(site, `&date=${day()}`)).json.data;
    return { views: d.total_views as number, uniques: d.unique_users_count as number };
  };

  it('logs what the spec shows for each processed event', async () => {
    const logs = shape.mode === 'embedded' ? sys.api : sys.workers[0]!;
    const base = await totals();
    const from = logs.lines.length;
    expect((await sys.sendEvent(site, { site_id: site.site_id, event_type: 'pageview', path: '/log', user_id: 'logger' })).status).toBe(202);
    await logs.waitForLine(/Event processed successfully/, 20_000, from);
    const lines = logs.lines.slice(from).join('\n');
    expect(lines).toMatch(new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\] INFO: Processing event for site: ${site.site_id}$`, 'm'));
    expect(lines).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] INFO: Event processed successfully/m);
    await sys.statsWhen(site, `&date=${day()}`, (d) => d.total_views === base.views + 1);
  });

  it('counts a replayed job once', async () => {
    const config = loadConfig(sys.env);
    // The test process has no AWS credentials of its own: the emulator's are passed in.
    const producer = shape.mode === 'sqs' ? new SqsEventQueue(config.sqs!, { clientOptions: { credentials: TEST_CREDENTIALS } }) : createEventQueue(config);
    try {
      if (producer instanceof BullmqEventQueue) await producer.queue.waitUntilReady();
      const base = await totals();
      const now = Date.now();
      const job: QueuedEvent[] = [1, 2, 3].map((i) => ({
        id: newEventId(),
        site_id: site.site_id,
        type: 'pageview',
        path: '/replayed',
        visitor: `u:r${i}`,
        ts: now,
        received_at: now,
      }));
      await producer.enqueue(job);
      await producer.enqueue(job); // the same events again, as a crash-replay would deliver them
      await producer.enqueue(job.slice(1));
      // A marker job queued last: once it is counted, the replays before it were processed.
      await producer.enqueue([{ ...job[0]!, id: newEventId(), path: '/marker', visitor: 'u:r1' }]);
      await sys.statsWhen(site, `&date=${day()}`, (d) => d.total_views >= base.views + 4);
      await sleep(500);
      expect(await totals()).toEqual({ views: base.views + 4, uniques: base.uniques + 3 });
      const range = (await sys.stats(site, `&from=${day()}&to=${day()}`)).json.data;
      expect(range.total_views).toBe(base.views + 4);
    } finally {
      await producer.close();
    }
  });

  it('applies a job queued by the previous version (payload without a version)', async () => {
    const config = loadConfig(sys.env);
    const base = await totals();
    const now = Date.now();
    const v1 = { events: [{ id: newEventId(), site_id: site.site_id, event_type: 'pageview', path: '/from-v1', user_id: 'v1-user', ts: now, received_at: now }] };
    if (shape.mode === 'sqs') {
      const { createSqsClient, sendAll } = await import('../src/queue/sqs-client.js');
      const client = createSqsClient(config.sqs!, 1, { credentials: TEST_CREDENTIALS });
      await sendAll(client, config.sqs!.queueUrl, [{ body: JSON.stringify(v1), dedupId: newEventId() }]);
      client.destroy();
    } else if (shape.mode === 'bullmq') {
      const { Queue } = await import('bullmq');
      const { Redis } = await import('ioredis');
      const connection = new Redis(config.redis!.url!, { maxRetriesPerRequest: null });
      const queue = new Queue(config.queue.name, { connection, prefix: config.queue.prefix });
      await queue.add('events', v1, { attempts: 5, backoff: { type: 'exponential', delay: 300 } });
      await queue.close();
      connection.disconnect();
    } else {
      const db = new Database(path.join(sys.env.DATA_DIR!, 'analytics.db'));
      db.pragma('busy_timeout = 10000');
      db.prepare(`INSERT INTO queue_jobs (batch_id, payload, event_count, state, run_at_ms, created_at_ms) VALUES (?, ?, 1, 'waiting', ?, ?)`).run(newEventId(), JSON.stringify(v1), now, now);
      db.close();
    }
    const data = await sys.statsWhen(site, `&date=${day()}`, (d) => d.total_views === base.views + 1);
    expect(data.unique_users_count).toBe(base.uniques + 1);
    expect(data.top_paths.length).toBeGreaterThan(0);
  });

  it('retries after a store failure with backoff and then counts the event exactly once', async () => {
    const logs = shape.mode === 'embedded' ? sys.api : sys.workers[0]!;
    const rename = async (from: string, to: string) => {
      if (shape.store === 'postgres') {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`alter table "${schema}".${from} rename to ${to}`);
        await client.end();
      } else {
        const db = new Database(path.join(sys.env.DATA_DIR!, 'analytics.db'));
        db.pragma('busy_timeout = 10000');
        db.exec(`ALTER TABLE ${from} RENAME TO ${to}`);
        db.close();
      }
    };
    const base = await totals();
    // The failure comes midway through the transaction: raw event and dictionary rows are already written.
    await rename('members', 'members_away');
    const from = logs.lines.length;
    try {
      expect((await sys.sendEvent(site, { site_id: site.site_id, event_type: 'pageview', path: '/after-outage', user_id: 'patient' })).status).toBe(202);
      const failures = () => logs.lines.slice(from).filter((l) => /Job failed: .*members/.test(l));
      for (let i = 0; failures().length < 2; i++) {
        if (i > 200) throw new Error(`no retries seen:\n${logs.lines.slice(from).join('\n')}`);
        await sleep(50);
      }
      expect(failures()[0]).toMatch(/"attempt":1/);
      expect(failures()[1]).toMatch(/"attempt":2/);
    } finally {
      await rename('members_away', 'members');
    }
    await sys.statsWhen(site, `&date=${day()}`, (d) => d.total_views === base.views + 1);
    await sleep(1000);
    expect(await totals()).toEqual({ views: base.views + 1, uniques: base.uniques + 1 });
    const last24h = (await sys.stats(site)).json.data;
    expect(last24h.total_views).toBe(base.views + 1);
  });

  it('puts a late event (3 days old) in its own local day and hour', async () => {
    const ts = Date.now() - 3 * 86_400_000;
    const lateDay = localDay(ts, TZ);
    const before = (await sys.stats(site, `&date=${lateDay}`)).json.data.total_views;
    const res = await sys.sendEvent(site, { site_id: site.site_id, event_type: 'pageview', path: '/late', user_id: 'late-visitor', timestamp: new Date(ts).toISOString() });
    expect(res.status).toBe(202);
    const data = await sys.statsWhen(site, `&date=${lateDay}`, (d) => d.total_views === before + 1);
    expect(data.top_paths).toContainEqual({ path: '/late', views: 1 });
    const hourly = (await sys.stats(site, `&from=${lateDay}&to=${lateDay}&granularity=hour`)).json.data;
    const hour = toLocalIso(hourStart(ts, TZ), TZ);
    expect(hourly.series.find((p: { hour: string }) => p.hour === hour)).toMatchObject({ views: 1, unique_users: 1 });
    expect(hourly.series.reduce((n: number, p: { views: number }) => n + p.views, 0)).toBe(before + 1);
  });

  it('runs the cron: deletes only old raw events and pre-creates today and tomorrow', async () => {
    const config = loadConfig(sys.env);
    const store = await openStore(config);
    try {
      // RETENTION_DAYS (7) + the day of margin the cron keeps: newer than the cutoff a maintenance
      // recorded at the workers' start, older than the one the cron below records.
      const old = Date.now() - 8 * 86_400_000;
      const before = await store.countEvents(site.site_id);
      const siteRow = (await store.getSite(site.site_id))!;
      const ancient: QueuedEvent[] = [0, 1].map((i) => ({ id: newEventId(), site_id: site.site_id, type: 'pageview', path: '/ancient', visitor: `u:old${i}`, ts: old, received_at: old }));
      await store.applyEvents(
        ancient.map((e) => prepareEvent(e, siteRow)),
        { now: Date.now(), sessionTimeoutMs: 30 * 60_000 },
      );
      expect(await store.countEvents(site.site_id)).toBe(before + 2);
      const cron = spawnNode(CRON_ENTRY, sys.env, 'cron');
      expect(await cron.exited).toBe(0);
      expect(cron.output()).toMatch(/Maintenance done: deleted 2 events older than 7 days/);
      expect(await store.countEvents(site.site_id)).toBe(before);
      const tomorrow = dayNumber(addDays(day(), 1));
      const placeholder = await store.summary(site.site_id, { grain: 1, from: tomorrow, to: tomorrow + 1 });
      expect(placeholder.series).toEqual([{ bucket: tomorrow, pageviews: 0, events: 0, visitors: 0, visits: 0, bounces: 0, durationMs: 0 }]);
      // Rollups of the old day stay.
      const oldDay = localDay(old, TZ);
      expect((await sys.stats(site, `&date=${oldDay}`)).json.data.total_views).toBe(2);

      // A job replayed after the cron (or a failed job queued again days later): its raw events are
      // gone, so the worker sets aside what is older than the cutoff the cron recorded, instead of
      // counting it again. A new event as old is set aside too; the rest of the job counts.
      const logs = shape.mode === 'embedded' ? sys.api : sys.workers[0]!;
      const from = logs.lines.length;
      const rejected = await store.countRejectedEvents(site.site_id);
      const base = await totals();
      const producer = shape.mode === 'sqs' ? new SqsEventQueue(config.sqs!, { clientOptions: { credentials: TEST_CREDENTIALS } }) : createEventQueue(config);
      try {
        if (producer instanceof BullmqEventQueue) await producer.queue.waitUntilReady();
        const lateNew: QueuedEvent = { ...ancient[0]!, id: newEventId(), visitor: 'u:old-new' };
        const now = Date.now();
        await producer.enqueue([...ancient, lateNew, { id: newEventId(), site_id: site.site_id, type: 'pageview', path: '/after-cron', visitor: 'u:after-cron', ts: now, received_at: now }]);
      } finally {
        await producer.close();
      }
      await sys.statsWhen(site, `&date=${day()}`, (d) => d.total_views === base.views + 1);
      await logs.waitForLine(/set aside in rejected_events: older than the retention cutoff/, 20_000, from);
      expect(await store.countRejectedEvents(site.site_id)).toBe(rejected + 3);
      expect((await sys.stats(site, `&date=${oldDay}`)).json.data).toMatchObject({ total_views: 2, unique_users_count: 2 });
      expect(await store.countEvents(site.site_id)).toBe(before + 1);
      expect(logs.lines.slice(from).filter((l) => /older than the retention cutoff/.test(l))).toHaveLength(3);
    } finally {
      await store.close();
    }
  });
});

describe('site creation without ADMIN_TOKEN', () => {
  it('is open for local use, and reading still needs the read key', async () => {
    const sys = await System.start({ mode: 'embedded' });
    try {
      const site = await sys.createSite('Open Site');
      expect(site.site_id).toBe('open-site');
      expect((await sys.request('GET', `/api/stats?site_id=${site.site_id}`)).status).toBe(401);
      expect((await sys.stats(site)).status).toBe(200);
    } finally {
      await sys.stop();
    }
  });
});
