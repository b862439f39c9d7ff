// ioredis connections built from the configuration: a single Redis, or a Redis Cluster when
// REDIS_CLUSTER_NODES is set. Every Redis connection of the project is created here.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisSettings } from '../config.js';

export type RedisConfig = RedisSettings;
/** A single-node client or a cluster client; both speak the commands this project sends. */
export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/**
 * `options` are per-connection options (as for a single Redis). On a cluster they apply to each
 * node's connection, except `enableOfflineQueue`, which is the cluster client's own; `cluster`
 * adds cluster-client options.
 */
export function createRedis(cfg: RedisConfig, options: RedisOptions = {}, cluster: ClusterOptions = {}): RedisClient {
  const base: RedisOptions = { ...(cfg.password ? { password: cfg.password } : {}), ...options };
  if (cfg.cluster) {
    const { enableOfflineQueue, ...redisOptions } = base;
    return new Cluster(cfg.cluster.nodes, {
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...cluster,
      redisOptions,
    });
  }
  return cfg.url ? new Redis(cfg.url, base) : new Redis({ host: cfg.host, port: cfg.port, ...base });
}

/**
 * For request paths: fail at once while disconnected instead of buffering commands, so an API
 * answers 503 quickly and never acknowledges an event that a later reconnect might or might not send.
 * On a cluster, redirections (MOVED, ASK) are followed and CLUSTERDOWN / TRYAGAIN / a lost node are
 * retried a few times (100 ms apart) inside ioredis; the producer retries beyond that until its deadline.
 */
export function createFailFastRedis(cfg: RedisConfig, name: string): RedisClient {
  const redis = createRedis(
    cfg,
    {
      connectionName: name,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(100 * times, 1000),
    },
    { maxRedirections: 3 },
  );
  redis.on('error', () => {}); // reconnects on its own; request paths see the failures
  return redis;
}

