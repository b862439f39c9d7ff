import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('defaults to the embedded mode with the spec values', () => {
    const c = loadConfig({});
    expect(c.store.kind).toBe('sqlite');
    expect(c.queue).toMatchObject({
      kind: 'embedded',
      name: 'analytics_events',
      concurrency: 10,
      rateLimit: { max: 100, durationMs: 1000 },
      attempts: 5,
      backoffMs: 2000,
      keepCompleted: { count: 1000, ageSeconds: 86400 },
      keepFailed: { count: 5000, ageSeconds: 604800 },
    });
    expect(c.ingest.rateLimit).toEqual({ max: 100, windowSeconds: 60 });
    expect(c.worker.inProcess).toBe(true);
    expect(c.port).toBe(3000);
    expect(c.retentionDays).toBe(7);
  });

  it('selects BullMQ with Redis, and the store by MONGODB_URI, then DATABASE_URL', () => {
    const redis = loadConfig({ REDIS_HOST: 'localhost', REDIS_PORT: '6380', QUEUE_CONCURRENCY: '4' });
    expect(redis.queue.kind).toBe('bullmq');
    expect(redis.redis).toMatchObject({ host: 'localhost', port: 6380 });
    expect(redis.worker.inProcess).toBe(false);
    expect(redis.queue.concurrency).toBe(4);
    expect(loadConfig({ REDIS_URL: 'redis://x:1', RUN_WORKER: 'true' }).worker.inProcess).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgres://h/db' }).store).toEqual({ kind: 'postgres', url: 'postgres://h/db', schema: 'public' });
    expect(loadConfig({ DATABASE_URL: 'postgres://h/db', MONGODB_URI: 'mongodb://m/a' }).store.kind).toBe('mongodb');
  });

  it('refuses invalid values with the variable name', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ QUEUE_CONCURRENCY: '0' })).toThrow(/QUEUE_CONCURRENCY/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    expect(() => loadConfig({ USE_SQS: 'true' })).toThrow(/SQS/);
  });

  it('turns the rate limit off with RATE_LIMIT_MAX=0', () => {
    expect(loadConfig({ RATE_LIMIT_MAX: '0' }).ingest.rateLimit.max).toBe(0);
  });

  it('signs sessions with SESSION_SECRET, else a key derived from ADMIN_TOKEN, else a random per-process key', () => {
    const own = loadConfig({ SESSION_SECRET: 's'.repeat(32), ADMIN_TOKEN: 't' });
    expect(own.session).toMatchObject({ secretSource: 'SESSION_SECRET', ttlMs: 12 * 3600_000, secureCookie: 'auto' });
    expect(own.session.secret.toString()).toBe('s'.repeat(32));
    const derived = loadConfig({ ADMIN_TOKEN: 'admin-token' });
    expect(derived.session.secretSource).toBe('ADMIN_TOKEN');
    expect(derived.session.secret.equals(loadConfig({ ADMIN_TOKEN: 'admin-token' }).session.secret)).toBe(true);
    expect(derived.session.secret.toString('utf8')).not.toContain('admin-token');
    const random = loadConfig({});
    expect(random.session.secretSource).toBe('random');
    expect(random.session.secret.equals(loadConfig({}).session.secret)).toBe(false);
    expect(() => loadConfig({ SESSION_SECRET: 'short' })).toThrow(/SESSION_SECRET/);
    expect(loadConfig({ SESSION_TTL_HOURS: '0.5', SESSION_COOKIE_SECURE: 'true' }).session).toMatchObject({ ttlMs: 1_800_000, secureCookie: true });
    expect(() => loadConfig({ SESSION_TTL_HOURS: '0' })).toThrow(/SESSION_TTL_HOURS/);
    expect(loadConfig({ PUBLIC_URL: 'https://analytics.example.com/some/path' }).publicUrl).toBe('https://analytics.example.com');
    expect(() => loadConfig({ PUBLIC_URL: 'analytics.example.com' })).toThrow(/PUBLIC_URL/);
    expect(loadConfig({}).siteCacheRefreshMs).toBe(10_000);
  });
});
