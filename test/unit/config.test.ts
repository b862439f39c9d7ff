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
});
