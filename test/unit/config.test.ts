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

  // Issue 9, item 12: every invalid value, one line naming the variable and what it got.
  it('says in one line what is wrong, and what it got', () => {
    const message = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(message({ PORT: 'abc' })).toBe('Invalid configuration: PORT must be a whole number, got "abc"');
    expect(message({ QUEUE_CONCURRENCY: '0' })).toBe('Invalid configuration: QUEUE_CONCURRENCY must be at least 1, got "0"');
    expect(message({ LOG_LEVEL: 'loud' })).toMatch(/^Invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/);
    expect(message({ USE_SQS: 'maybe' })).toMatch(/^Invalid configuration: USE_SQS must be one of .*, got "maybe"$/);
    expect(message({ PORT: 'x', JOB_ATTEMPTS: '0' })).toBe('Invalid configuration: PORT must be a whole number, got "x"; JOB_ATTEMPTS must be at least 1, got "0"');
    expect(message({ CRON_SCHEDULE: 'every day' })).toMatch(/^Invalid configuration: CRON_SCHEDULE must be a cron expression such as "5 0 \* \* \*" \(.*\), got "every day"$/);
    expect(message({ CRON_SCHEDULE: '61 0 * * *' })).toMatch(/CRON_SCHEDULE/);
    expect(message({ DATABASE_URL: 'mysql://u:secret@x/db' })).toBe('Invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL, got "mysql://u:***@x/db"');
    for (const m of [message({ PORT: 'abc' }), message({ CRON_SCHEDULE: 'x' })]) expect(m).not.toContain('\n');
    expect(loadConfig({ CRON_SCHEDULE: '*/15 * * * *' }).cronSchedule).toBe('*/15 * * * *');
  });

  // Issue 9, item 3: TRUST_PROXY takes what Fastify's trustProxy takes.
  it('reads TRUST_PROXY as a boolean, a hop count or a list of addresses and CIDR ranges', () => {
    const tp = (v: string) => loadConfig({ TRUST_PROXY: v }).ingest.trustProxy;
    expect([tp(''), tp('false'), tp('no'), tp('true'), tp('yes')]).toEqual([false, false, false, true, true]);
    expect(tp('1')).toBe(1);
    expect(tp('2')).toBe(2);
    expect(tp('10.0.0.1')).toEqual(['10.0.0.1']);
    expect(tp('127.0.0.1, 10.0.0.0/8,::1 , 2001:db8::/32')).toEqual(['127.0.0.1', '10.0.0.0/8', '::1', '2001:db8::/32']);
    expect(() => tp('nginx')).toThrow(/TRUST_PROXY must be true, false, a hop count, or a comma-separated list/);
    expect(() => tp('10.0.0.0/33')).toThrow(/TRUST_PROXY/);
    expect(() => tp('10.0.0.1,bad')).toThrow(/not an address: bad/);
  });

  // Issue 9, item 6: reads have their own budget.
  it('has a read rate limit of its own', () => {
    expect(loadConfig({}).readRateLimit).toEqual({ max: 120, windowSeconds: 60 });
    expect(loadConfig({ READ_RATE_LIMIT_MAX: '5', READ_RATE_LIMIT_WINDOW_SECONDS: '10', RATE_LIMIT_MAX: '0' })).toMatchObject({
      readRateLimit: { max: 5, windowSeconds: 10 },
      ingest: { rateLimit: { max: 0 } },
    });
  });

  // Issue 9, item 15: in production the API needs a real ADMIN_TOKEN.
  it('refuses to start the API in production without a real ADMIN_TOKEN', () => {
    const prod = { NODE_ENV: 'production' };
    expect(() => loadConfig(prod)).toThrow(/^Invalid configuration: ADMIN_TOKEN must be set when NODE_ENV=production/);
    expect(() => loadConfig({ ...prod, ADMIN_TOKEN: 'change-me' })).toThrow(/ADMIN_TOKEN is the placeholder "change-me"/);
    expect(() => loadConfig({ ...prod, ADMIN_TOKEN: 'CHANGEME' })).toThrow(/placeholder/);
    expect(() => loadConfig({ ...prod, ADMIN_TOKEN: 'short-token' })).toThrow(/at least 16 characters.*got 11/);
    expect(loadConfig({ ...prod, ADMIN_TOKEN: 'f'.repeat(32) }).adminToken).toBe('f'.repeat(32));
    // Only the API reads it: a worker or the cron start without it.
    expect(loadConfig(prod, 'worker').env).toBe('production');
    expect(loadConfig(prod, 'cron').env).toBe('production');
    // Development stays open for local use.
    expect(loadConfig({ ADMIN_TOKEN: 'x' }).adminToken).toBe('x');
  });
});
