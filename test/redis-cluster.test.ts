// BullMQ, the rate limit and the site announcements on a real Redis Cluster (3 masters, 3 replicas,
// password-protected, started from redis-server by the test): the queue contract, the end-to-end flow
// through HTTP, two API servers sharing the limit, and a kill -9 of the master that holds the queue's
// slot while events flow. One cluster for the whole file; the failover test runs last.
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashTag } from '../src/config.js';
import { newEventId, type QueuedEvent } from '../src/core/event.js';
import { BullmqEventConsumer, BullmqEventQueue } from '../src/queue/bullmq.js';
import type { RedisConfig } from '../src/queue/redis.js';
import { clusterAvailable, RedisCluster } from './helpers/redis-cluster.js';
import { uniqueName } from './helpers/services.js';
import { System, type SiteKeys } from './helpers/system.js';
import { expectedStats, sendEvents, storedUserIds, trafficEvent, type SentEvent } from './helpers/traffic.js';
import { sleep, until } from './helpers/wait.js';
import { queueContract, queueSettings } from './queue.contract.js';

const PASSWORD = 'cluster-test-secret';
const PREFIX = '{bull}';
const available = clusterAvailable();

let cluster: RedisCluster;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  if (available) cluster = await RedisCluster.start({ password: PASSWORD, nodeTimeoutMs: 3000 });
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await cluster?.stop();
});

const redisConfig = (): RedisConfig => ({ port: 6379, password: PASSWORD, cluster: { nodes: cluster.startupNodes, waitReplicas: 1 } });

function clusterClient(): Cluster {
  const c = new Cluster(cluster.startupNodes, { redisOptions: { password: PASSWORD, maxRetriesPerRequest: null } });
  c.on('error', () => {});
  return c;
}

async function start(env: Record<string, string> = {}, workers = 1): Promise<System> {
  const sys = await System.start({
    mode: 'bullmq',
    workers,
    env: { REDIS_CLUSTER_NODES: cluster.nodeList, REDIS_PASSWORD: PASSWORD, ...env },
  });
  cleanups.push(() => sys.stop());
  return sys;
}

/** Waits until the last-24-hours totals reach the events', then checks they stay exact and each is stored once. */
async function expectExact(sys: System, site: SiteKeys, counted: SentEvent[]) {
  const expected = expectedStats(counted);
  await sys.statsWhen(site, '', (d) => d.total_views >= expected.total_views, 60_000);
  await sleep(1000); // anything still in flight would show now
  const data = (await sys.stats(site)).json.data;
  expect({ total_views: data.total_views, unique_users_count: data.unique_users_count, top_paths: data.top_paths }).toEqual(expected);
  const stored = await storedUserIds(sys, site);
  expect(stored.length).toBe(counted.length);
  expect(new Set(stored)).toEqual(new Set(counted.map((e) => e.body.user_id)));
}

/** Every key on every master whose name mentions `needle`, with the port of the master holding it. */
async function keysMentioning(needle: string): Promise<{ key: string; port: number }[]> {
  const out: { key: string; port: number }[] = [];
  const masters = (await cluster.topology()).filter((n) => n.flags.includes('master') && !n.flags.includes('fail'));
  for (const m of masters) {
    const r = cluster.connect(cluster.nodes.find((n) => n.port === m.port)!);
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `*${needle}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) out.push({ key, port: m.port });
    } while (cursor !== '0');
    r.disconnect();
  }
  return out;
}

describe.runIf(available)('Redis Cluster', () => {
  describe('queue', () => {
    queueContract('BullMQ on Redis Cluster', async (settings) => {
      const q = { ...settings, ...queueSettings({ ...settings, kind: 'bullmq', prefix: PREFIX, name: uniqueName('qcluster') }) };
      const producer = new BullmqEventQueue(redisConfig(), q, { retryForMs: 5000 });
      await producer.queue.waitUntilReady();
      return {
        producer,
        consumer: (s) => new BullmqEventConsumer(redisConfig(), { ...s, prefix: PREFIX, name: q.name }, { flushMaxEvents: 1000 }),
        cleanup: async () => {
          const conn = clusterClient();
          const queue = new Queue(q.name, { connection: conn, prefix: PREFIX });
          await queue.obliterate({ force: true });
          await queue.close();
          conn.disconnect();
          await producer.close();
        },
      };
    });
  });

  it('acknowledges a write only once a replica has it (WAIT): with the replica hung, the write fails at its deadline', async () => {
    const q = queueSettings({ kind: 'bullmq', prefix: PREFIX, name: uniqueName('qwait') });
    const producer = new BullmqEventQueue(redisConfig(), q, { retryForMs: 1000 });
    cleanups.push(() => producer.close());
    await producer.queue.waitUntilReady();
    const { replicas } = await cluster.ownerOf(`${PREFIX}:${q.name}:wait`);
    const ev = (n: number): QueuedEvent => ({ id: newEventId(), site_id: 's', type: 'pageview', path: `/${n}`, visitor: `u:u${n}`, ts: n, received_at: n });
    await producer.enqueue([ev(1)]);
    cluster.pause(replicas[0]!);
    try {
      await expect(producer.enqueue([ev(2)], { deadline: Date.now() + 1500 })).rejects.toThrow(/0 of 1 replicas confirmed the write/);
    } finally {
      cluster.resume(replicas[0]!);
    }
    await producer.enqueue([ev(3)]);
    // The refused write did reach the master (a 503 never proves an event was not queued).
    expect(await producer.queue.getWaitingCount()).toBe(3);
    await producer.queue.obliterate({ force: true });
  });

  describe('through HTTP', () => {
    let sys: System;
    let site: SiteKeys;
    beforeAll(async () => {
      sys = await start({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '3600', SITE_CACHE_REFRESH_SECONDS: '3600' }, 2);
      site = await sys.createSite('Cluster Flow');
    });

    it('turns events sent through the API into exact totals, uniques and top paths (two workers)', async () => {
      // Past the rate limit: this test checks the queue, the next one the limit (its own route budget is per IP).
      const api = new System(sys.env, 'bullmq');
      await api.startApi({ RATE_LIMIT_MAX: '0' });
      cleanups.push(async () => void (await api.api.stop()));
      const events = Array.from({ length: 3000 }, (_, i) => trafficEvent(site, i));
      const sent = await sendEvents(api, site, events, { concurrency: 50 });
      expect(sent.acked).toHaveLength(3000);
      await expectExact(sys, site, sent.acked);
      // Every key of the system (queue, maintenance queue, rate-limit counters) carries the prefix's
      // hash tag, so all of them sit on the one master that serves its slot.
      const keys = await keysMentioning(sys.env.QUEUE_NAME!);
      expect(keys.some((k) => k.key.includes(':ratelimit:'))).toBe(true);
      expect(keys.some((k) => k.key.includes('-maintenance:'))).toBe(true);
      // The workers' heartbeats too (a key per worker with a TTL, and their index).
      expect(keys.some((k) => k.key.endsWith(':workers'))).toBe(true);
      expect(keys.filter((k) => k.key.includes(':workers:')).length).toBe(2);
      expect(keys.every((k) => hashTag(k.key) === 'bull')).toBe(true);
      expect(new Set(keys.map((k) => k.port)).size).toBe(1);
      const { master } = await cluster.ownerOf(`${PREFIX}:${sys.env.QUEUE_NAME}:wait`);
      expect(keys[0]!.port).toBe(master.port);
      console.log(`[cluster] end to end: sent 3000, acknowledged ${sent.acked.length}, counted 3000; ${keys.length} keys, all on the master at port ${master.port}`);
    });

    it('shares the rate limit between two API servers', async () => {
      const second = new System(sys.env, 'bullmq');
      await second.startApi();
      cleanups.push(async () => void (await second.api.stop()));
      const ev = () => trafficEvent(site, 900_000 + Math.floor(Math.random() * 1e6)).body;
      const s1 = [(await sys.sendEvent(site, ev())).status, (await sys.sendEvent(site, ev())).status];
      const s2 = [(await second.sendEvent(site, ev())).status, (await second.sendEvent(site, ev())).status];
      expect([...s1, ...s2]).toEqual([202, 202, 202, 429]);
      const limited = await second.sendEvent(site, ev());
      expect(limited.json).toMatchObject({ success: false, error: 'Rate limit exceeded' });
    });

    it('announces a new site to the other API server (periodic refresh off)', async () => {
      const second = new System(sys.env, 'bullmq');
      await second.startApi({ RATE_LIMIT_MAX: '0' });
      cleanups.push(async () => void (await second.api.stop()));
      const fresh = await sys.createSite('Announced');
      await until(async () => (await second.sendEvent(fresh, trafficEvent(fresh, 1).body)).status === 202, 'the second server to know the new site', 10_000, 100);
    });

    it('reports the queue healthy', async () => {
      const health = await sys.request('GET', '/api/health');
      expect(health.status).toBe(200);
      expect(health.json.data.queue).toEqual({ kind: 'bullmq', status: 'ok' });
    });

    it('is ready, with both workers seen through their heartbeats on the cluster', async () => {
      const ready = await sys.request('GET', '/api/ready');
      expect(ready.status, ready.text).toBe(200);
      expect(ready.json.data.checks).toMatchObject({ queue: { ok: true, kind: 'bullmq' }, workers: { ok: true, seen: 2 }, queue_age: { ok: true } });
    });
  });

  describe('failover', () => {
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
    });

    it('kill -9 of the master holding the queue: the replica takes over, writes retry, nothing acknowledged lost or counted twice', async () => {
      // Two API servers on the same queue: "patient" waits out the whole failover (ENQUEUE_TIMEOUT_MS
      // well above it), "quick" gives up after 1 s, less than the outage (at least the 3 s node timeout).
      const patient = await start({ ENQUEUE_TIMEOUT_MS: '20000', QUEUE_LOCK_MS: '3000', SITE_CACHE_REFRESH_SECONDS: '3600' });
      const quick = new System({ ...patient.env, ENQUEUE_TIMEOUT_MS: '1000' }, 'bullmq');
      await quick.startApi();
      cleanups.push(async () => void (await quick.api.stop()));
      const site = await patient.createSite('Failover');
      const { slot, master, replicas } = await cluster.ownerOf(`${PREFIX}:${patient.env.QUEUE_NAME}:wait`);
      expect(replicas).toHaveLength(1);
      const events = Array.from({ length: 200_000 }, (_, i) => trafficEvent(site, i));
      let done = false;
      const acked = { patient: 0, quick: 0 };
      const sendingPatient = sendEvents(patient, site, events.slice(0, 100_000), { concurrency: 10, stop: () => done, onAck: (n) => (acked.patient = n) });
      const sendingQuick = sendEvents(quick, site, events.slice(100_000), { concurrency: 10, stop: () => done, onAck: (n) => (acked.quick = n) });
      await until(() => acked.patient >= 1000 && acked.quick >= 1000, '1000 acknowledged events on each server');
      const killedAt = Date.now();
      const ackedAtKill = acked.patient + acked.quick;
      await cluster.kill(master);
      await cluster.waitPromoted(replicas[0]!);
      const failoverMs = Date.now() - killedAt;
      const ackedAtPromotion = { ...acked };
      await until(
        () => acked.patient >= ackedAtPromotion.patient + 1000 && acked.quick >= ackedAtPromotion.quick + 1000,
        '1000 more acknowledged events on each server after the failover',
        60_000,
      );
      done = true;
      const [slow, fast] = await Promise.all([sendingPatient, sendingQuick]);

      // The patient server refused nothing: its writes retried until the promoted replica took them.
      expect([...slow.statuses.keys()]).toEqual([202]);
      expect(patient.api.output()).toMatch(/Queue write succeeded on attempt \d+ after \d+ ms/);
      // The quick one answered 503 once ENQUEUE_TIMEOUT_MS had passed, never anything else.
      expect(fast.statuses.get(503) ?? 0).toBeGreaterThan(0);
      expect([...fast.statuses.keys()].every((s) => s === 202 || s === 503)).toBe(true);

      // Every acknowledged event is stored, once. A refused request whose write landed just before its
      // deadline may be counted too (its client was told to retry): that is the only extra allowed.
      const ackedEvents = [...slow.acked, ...fast.acked];
      await until(async () => {
        const stored = new Set(await storedUserIds(patient, site));
        return ackedEvents.every((e) => stored.has(e.body.user_id));
      }, 'every acknowledged event to be stored', 120_000);
      await sleep(2000);
      const stored = await storedUserIds(patient, site);
      const storedSet = new Set(stored);
      expect(storedSet.size).toBe(stored.length);
      const ackedIds = new Set(ackedEvents.map((e) => e.body.user_id));
      const refusedIds = new Set(fast.refused.map((e) => e.body.user_id));
      const extra = stored.filter((id) => !ackedIds.has(id));
      expect(extra.every((id) => refusedIds.has(id))).toBe(true);
      const counted = events.filter((e) => storedSet.has(e.body.user_id));
      const data = (await patient.stats(site)).json.data;
      expect({ total_views: data.total_views, unique_users_count: data.unique_users_count, top_paths: data.top_paths }).toEqual(expectedStats(counted));
      // Site announcements still reach the other server after the failover (periodic refresh off).
      const later = await patient.createSite('After Failover');
      await until(async () => (await quick.sendEvent(later, trafficEvent(later, 1).body)).status === 202, 'the new site on the other server', 10_000, 100);
      const sent = slow.acked.length + slow.refused.length + fast.acked.length + fast.refused.length;
      console.log(
        `[cluster fault] kill -9 of the master of slot ${slot} (port ${master.port}); replica ${replicas[0]!.port} promoted after ${failoverMs} ms. ` +
          `sent ${sent}, acknowledged ${ackedEvents.length} (${ackedAtKill} before the kill), refused ${fast.refused.length} ` +
          `(patient server ${[...slow.statuses].map(([s, n]) => `${s}:${n}`).join(' ')}; quick server ${[...fast.statuses].map(([s, n]) => `${s}:${n}`).join(' ')}), ` +
          `counted ${stored.length} (${extra.length} refused-but-queued)`,
      );
    });
  });
});
