// The batched Redis store of the rate limit (src/api/rate-limit-store.ts), on a real Redis: the
// counts of one turn of the event loop go in one script call, and every request still gets the
// count and time left Redis answered for it.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchedRedisStore } from '../src/api/rate-limit-store.js';
import { PrivateRedis } from './helpers/private-servers.js';
import { uniqueName } from './helpers/services.js';

// A Redis of its own: the test counts the script calls Redis received, and other suites running
// at the same time send BullMQ's scripts to the shared one.
describe('batched rate-limit store', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let probe: Redis;
  beforeAll(async () => {
    server = await PrivateRedis.start({ durable: false });
    redis = new Redis(server.url);
    probe = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    probe?.disconnect();
    await server?.stop();
  });

  type Store = { incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number, max: number): void };
  const incr = (store: Store, key: string, window = 60_000, max = 10) =>
    new Promise<{ current: number; ttl: number }>((resolve, reject) => store.incr(key, (err, res) => (err ? reject(err) : resolve(res!)), window, max));
  const scriptCalls = async () => {
    const stats = await probe.info('commandstats');
    return ['evalsha', 'eval'].reduce((n, cmd) => n + Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0), 0);
  };
  const route = (method: string, url: string) => ({ routeInfo: { method, url } });

  it('counts 50 requests of one turn in one script call, each with its own count, in the plugin’s keys', async () => {
    const ns = `${uniqueName('rl')}:`;
    const Store = batchedRedisStore(redis, ns);
    const store = new Store({} as never).child(route('POST', '/api/event') as never) as unknown as Store;
    await incr(store, 'warm'); // the script is loaded (EVAL, then EVALSHA)
    const before = await scriptCalls();
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => incr(store, i < 40 ? '198.51.100.1' : '198.51.100.2')));
    expect(await scriptCalls()).toBe(before + 1);
    expect(answers.slice(0, 40).map((a) => a.current)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(answers.slice(40).map((a) => a.current)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    for (const a of answers) expect(a.ttl).toBeGreaterThan(59_000);
    // The key @fastify/rate-limit's RedisStore uses: a running window carries over an upgrade.
    expect(await probe.get(`${ns}POST/api/event-198.51.100.1`)).toBe('40');
    expect(await probe.pttl(`${ns}POST/api/event-198.51.100.2`)).toBeGreaterThan(59_000);
  });

  it('keeps the window of a key from its first request, and gives routes counters of their own', async () => {
    const Store = batchedRedisStore(redis, `${uniqueName('rl')}:`);
    const root = new Store({} as never);
    const events = root.child(route('POST', '/api/event') as never) as unknown as Store;
    const stats = root.child(route('GET', '/api/stats') as never) as unknown as Store;
    const first = await incr(events, 'ip', 1000);
    await new Promise((r) => setTimeout(r, 300));
    const second = await incr(events, 'ip', 1000);
    expect(first).toEqual({ current: 1, ttl: 1000 });
    expect(second.current).toBe(2);
    expect(second.ttl).toBeLessThanOrEqual(750);
    expect((await incr(stats, 'ip', 1000)).current).toBe(1);
  });

  it('answers every waiting request with the error when Redis fails', async () => {
    const broken = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    broken.on('error', () => {});
    const Store = batchedRedisStore(broken, 'x:');
    const store = new Store({} as never);
    const results = await Promise.allSettled([incr(store, 'a'), incr(store, 'b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    broken.disconnect();
  });
});
