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
    expect(() => loadConfig({ USE_SQS: 'true' })).toThrow(/USE_SQS=true needs SQS_QUEUE_URL/);
    expect(() => loadConfig({ USE_SQS: 'true', SQS_QUEUE_URL: 'my-queue' })).toThrow(/SQS_QUEUE_URL must be an http/);
    expect(() => loadConfig({ USE_SQS: 'true', SQS_QUEUE_URL: 'https://q/1/a', SQS_WAIT_TIME_SECONDS: '21' })).toThrow(/SQS_WAIT_TIME_SECONDS/);
  });

  it('selects SQS with USE_SQS=true, before Redis, with the region and endpoint passed on', () => {
    const url = 'https://sqs.eu-west-1.amazonaws.com/123456789012/analytics';
    const c = loadConfig({ USE_SQS: 'true', SQS_QUEUE_URL: url, AWS_REGION: 'eu-west-1', REDIS_URL: 'redis://r:6379' });
    expect(c.queue.kind).toBe('sqs');
    expect(c.sqs).toEqual({ queueUrl: url, dlqUrl: undefined, region: 'eu-west-1', endpoint: undefined, waitTimeSeconds: 20 });
    expect(c.redis).toBeDefined(); // still used for the shared rate limits
    expect(c.worker.inProcess).toBe(false);
    const local = loadConfig({ USE_SQS: '1', SQS_QUEUE_URL: url, SQS_DLQ_URL: `${url}-dlq`, AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4566', SQS_WAIT_TIME_SECONDS: '0' });
    expect(local.sqs).toMatchObject({ dlqUrl: `${url}-dlq`, endpoint: 'http://127.0.0.1:4566', waitTimeSeconds: 0, region: 'us-east-1' });
    expect(loadConfig({ SQS_QUEUE_URL: url }).queue.kind).toBe('embedded'); // only USE_SQS selects it
  });

  it('reads the CloudWatch Logs settings, with the SDK\'s endpoint variables (the service-specific one first)', () => {
    expect(loadConfig({}).cloudwatch).toEqual({
      enabled: false,
      region: 'us-east-1',
      endpoint: undefined,
      logGroup: 'website-analytics',
      createLogGroup: true,
      flushIntervalMs: 5000,
      bufferMaxEvents: 20_000,
      bufferMaxBytes: 16 * 1024 * 1024,
      flushTimeoutMs: 5000,
      requestTimeoutMs: 10_000,
    });
    const c = loadConfig({
      ENABLE_CLOUDWATCH: 'true',
      AWS_REGION: 'eu-west-1',
      CLOUDWATCH_LOG_GROUP: '/analytics/prod',
      CLOUDWATCH_CREATE_LOG_GROUP: 'false',
      AWS_ENDPOINT_URL: 'http://all:1',
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: 'http://logs:2',
    }).cloudwatch;
    expect(c).toMatchObject({ enabled: true, region: 'eu-west-1', logGroup: '/analytics/prod', createLogGroup: false, endpoint: 'http://logs:2' });
    expect(loadConfig({ AWS_ENDPOINT_URL: 'https://all:1' }).cloudwatch.endpoint).toBe('https://all:1');
    expect(() => loadConfig({ CLOUDWATCH_LOG_GROUP: 'a:b' })).toThrow(/CLOUDWATCH_LOG_GROUP/);
    expect(() => loadConfig({ AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: 'logs.local' })).toThrow(/AWS_ENDPOINT_URL_CLOUDWATCH_LOGS/);
    expect(() => loadConfig({ CLOUDWATCH_BUFFER_MAX_BYTES: '1000' })).toThrow(/CLOUDWATCH_BUFFER_MAX_BYTES/);
  });

  it('turns the rate limit off with RATE_LIMIT_MAX=0', () => {
    expect(loadConfig({ RATE_LIMIT_MAX: '0' }).ingest.rateLimit.max).toBe(0);
  });

  it('takes a second tracker path: /…/….js, outside /api/, plain segments only', () => {
    expect(loadConfig({}).tracker.scriptPath).toBeUndefined();
    expect(loadConfig({ TRACKER_SCRIPT_PATH: '' }).tracker.scriptPath).toBeUndefined();
    expect(loadConfig({ TRACKER_SCRIPT_PATH: '/js/app.js' }).tracker.scriptPath).toBe('/js/app.js');
    expect(loadConfig({ TRACKER_SCRIPT_PATH: '/a.b-c_d~e.js' }).tracker.scriptPath).toBe('/a.b-c_d~e.js');
    expect(loadConfig({ TRACKER_SCRIPT_PATH: '/api.js' }).tracker.scriptPath).toBe('/api.js');
    for (const bad of ['js/app.js', '/js/app', '/js/app.mjs', '/api/t.js', '/API/t.js', '/:id.js', '/*.js', '/a//b.js', '/../x.js', '/a/./b.js', '/a b.js', '/a.js?x=1', '/a.js#x', '/.js/']) {
      expect(() => loadConfig({ TRACKER_SCRIPT_PATH: bad }), bad).toThrow(/TRACKER_SCRIPT_PATH/);
    }
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
