// ioredis connections built from the configuration: a single Redis, or a Redis Cluster when
// REDIS_CLUSTER_NODES is set. Every Redis connection of the project is created here.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redactUrl, type RedisSettings } from '../config.js';
import type { Logger } from '../logger.js';
import { untilReady } from '../ready.js';

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
export function createFailFastRedis(cfg: RedisConfig, name: string, options: RedisOptions = {}): RedisClient {
  const redis = createRedis(
    cfg,
    {
      ...options,
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

/** `redis://host:6379`, `host:6379` or the cluster's nodes, without a password: for messages. */
export function describeRedis(cfg: RedisConfig): string {
  if (cfg.cluster) return `cluster ${cfg.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return cfg.url ? redactUrl(cfg.url) : `${cfg.host}:${cfg.port}`;
}

/**
 * Waits until Redis answers a PING, saying so while it does not (with a growing pause), so that a
 * worker started while Redis is down is not silent.
 */
export async function waitForRedis(cfg: RedisConfig, logger: Logger, purpose: string, signal?: AbortSignal): Promise<void> {
  const redis = createRedis(
    cfg,
    {
      connectionName: 'wait-for-redis',
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      retryStrategy: () => null,
    },
    { lazyConnect: true, clusterRetryStrategy: () => null },
  );
  // The socket's own error (connect ECONNREFUSED …) says more than ioredis' "Connection is closed".
  let socketError: Error | undefined;
  redis.on('error', (err: Error) => (socketError = err));
  try {
    await untilReady({
      what: `Redis at ${describeRedis(cfg)} (${purpose})`,
      attempt: async () => {
        socketError = undefined;
        if (redis.status !== 'ready') {
          await redis.connect().catch((err: Error) => {
            redis.disconnect();
            throw socketError ?? err;
          });
        }
        await redis.ping();
      },
      isTransient: () => true,
      logger,
      signal,
    });
  } finally {
    redis.disconnect();
  }
}

/**
 * For long-lived connections: one warning when Redis goes away (with what that means), one line
 * when it is back. ioredis reconnects by itself, with a growing pause.
 */
export function logRedisAvailability(redis: RedisClient, cfg: RedisConfig, logger: Logger, whileDown: string): void {
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    logger.warn(`Redis at ${describeRedis(cfg)} is not reachable (${err.message || (err as { code?: string }).code}): ${whileDown}; reconnecting with backoff`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info(`Redis at ${describeRedis(cfg)} is reachable again`);
  });
}
