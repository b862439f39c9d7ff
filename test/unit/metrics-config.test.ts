// Configuration of metrics, heartbeats and readiness (src/config.ts).
import { describe, expect, it } from 'vitest';
import { ConfigError, heartbeatConfig, loadConfig } from '../../src/config.js';

describe('metrics, heartbeat and readiness configuration', () => {
  it('has defaults: metrics protected, no worker metrics port, 30 s heartbeat timeout, 300 s queue age, 2 s checks', () => {
    const c = loadConfig({});
    expect(c.metrics).toEqual({ public: false, workerPort: undefined, workerHost: '0.0.0.0', queueCacheMs: 5000 });
    expect(c.heartbeat).toEqual({ timeoutMs: 30_000, intervalMs: 5000 });
    expect(c.ready).toEqual({ maxQueueAgeMs: 300_000, checkTimeoutMs: 2000 });
  });

  it('reads every variable', () => {
    const c = loadConfig({
      METRICS_PUBLIC: 'true',
      WORKER_METRICS_PORT: '9464',
      WORKER_METRICS_HOST: '127.0.0.1',
      QUEUE_STATS_CACHE_SECONDS: '0.5',
      WORKER_HEARTBEAT_TIMEOUT_SECONDS: '12',
      READY_MAX_QUEUE_AGE_SECONDS: '60',
      HEALTH_CHECK_TIMEOUT_MS: '750',
    });
    expect(c.metrics).toEqual({ public: true, workerPort: 9464, workerHost: '127.0.0.1', queueCacheMs: 500 });
    expect(c.heartbeat).toEqual({ timeoutMs: 12_000, intervalMs: 4000 });
    expect(c.ready).toEqual({ maxQueueAgeMs: 60_000, checkTimeoutMs: 750 });
  });

  it('takes WORKER_METRICS_PORT=0 as "a free port" and an empty value as unset', () => {
    expect(loadConfig({ WORKER_METRICS_PORT: '0' }).metrics.workerPort).toBe(0);
    expect(loadConfig({ WORKER_METRICS_PORT: '' }).metrics.workerPort).toBeUndefined();
    expect(loadConfig({ WORKER_METRICS_PORT: '  ' }).metrics.workerPort).toBeUndefined();
  });

  it('beats three times per timeout, at most every 5 s and at least every 100 ms', () => {
    expect(heartbeatConfig(30)).toEqual({ timeoutMs: 30_000, intervalMs: 5000 });
    expect(heartbeatConfig(6)).toEqual({ timeoutMs: 6000, intervalMs: 2000 });
    expect(heartbeatConfig(1)).toEqual({ timeoutMs: 1000, intervalMs: 333 });
    expect(heartbeatConfig(0.2).intervalMs).toBe(100);
  });

  it('refuses invalid values in one line naming the variable', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ WORKER_METRICS_PORT: 'abc' }, /WORKER_METRICS_PORT must be a whole number, got "abc"/],
      [{ WORKER_METRICS_PORT: '70000' }, /WORKER_METRICS_PORT must be at most 65535/],
      [{ WORKER_METRICS_PORT: '1.5' }, /WORKER_METRICS_PORT/],
      [{ METRICS_PUBLIC: 'maybe' }, /METRICS_PUBLIC must be one of .*true, false/],
      [{ WORKER_HEARTBEAT_TIMEOUT_SECONDS: '0' }, /WORKER_HEARTBEAT_TIMEOUT_SECONDS must be at least 1/],
      [{ WORKER_HEARTBEAT_TIMEOUT_SECONDS: 'soon' }, /WORKER_HEARTBEAT_TIMEOUT_SECONDS/],
      [{ READY_MAX_QUEUE_AGE_SECONDS: '0' }, /READY_MAX_QUEUE_AGE_SECONDS must be at least 1/],
      [{ HEALTH_CHECK_TIMEOUT_MS: '10' }, /HEALTH_CHECK_TIMEOUT_MS must be at least 100/],
      [{ QUEUE_STATS_CACHE_SECONDS: '-1' }, /QUEUE_STATS_CACHE_SECONDS must be at least 0/],
    ];
    for (const [env, message] of bad) {
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(ConfigError);
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(message);
    }
  });

  it('refuses, in production, a worker metrics port that neither the admin token nor METRICS_PUBLIC covers', () => {
    const env = { NODE_ENV: 'production', WORKER_METRICS_PORT: '9464' };
    expect(() => loadConfig(env, 'worker')).toThrow(/WORKER_METRICS_PORT is set with NODE_ENV=production but neither ADMIN_TOKEN nor METRICS_PUBLIC=true/);
    expect(loadConfig({ ...env, ADMIN_TOKEN: '4f1e9a0c7d2b83e65a19c0d4b7e2f813' }, 'worker').metrics.workerPort).toBe(9464);
    expect(loadConfig({ ...env, METRICS_PUBLIC: 'true' }, 'worker').metrics.public).toBe(true);
    // Without a port there is nothing to protect; outside production, open like site creation.
    expect(() => loadConfig({ NODE_ENV: 'production' }, 'worker')).not.toThrow();
    expect(() => loadConfig({ WORKER_METRICS_PORT: '9464' }, 'worker')).not.toThrow();
  });
});
