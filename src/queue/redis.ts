// ioredis connections built from the configuration.
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';

export type RedisConfig = NonNullable<Config['redis']>;

export function createRedis(cfg: RedisConfig, options: RedisOptions = {}): Redis {
  const base: RedisOptions = { ...(cfg.password ? { password: cfg.password } : {}), ...options };
  return cfg.url ? new Redis(cfg.url, base) : new Redis({ host: cfg.host, port: cfg.port, ...base });
}

/**
 * For request paths: fail at once while disconnected instead of buffering commands, so an API
 * answers 503 quickly and never acknowledges an event that a later reconnect might or might not send.
 */
export function createFailFastRedis(cfg: RedisConfig, name: string): Redis {
  const redis = createRedis(cfg, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * times, 1000),
  });
  redis.on('error', () => {}); // reconnects on its own; request paths see the failures
  return redis;
}
