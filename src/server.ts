// `npm start`: the HTTP API. With Redis or SQS it serves the API alone (workers are their own
// processes, `npm run worker:prod`); embedded, it also runs a worker in a thread of this process.
import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.js';
import { dashboardDir } from './api/dashboard.js';
import type { ApiContext } from './api/context.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { EnqueueBatcher } from './queue/batcher.js';
import { createEventQueue, queueLabel } from './queue/factory.js';
import { createFailFastRedis, createRedis, type RedisClient } from './queue/redis.js';
import { openStore } from './store/index.js';
import { SiteCache } from './store/site-cache.js';

export interface RunningServer {
  app: FastifyInstance;
  ctx: ApiContext;
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const store = await openStore(config);
  const sites = new SiteCache(store);
  await sites.load();
  sites.startRefresh(config.siteCacheRefreshMs, (err) => logger.warn({ err }, 'Site cache refresh failed'));

  const queue = createEventQueue(config, logger);
  let redis: RedisClient | undefined;
  let subscriber: RedisClient | undefined;
  let announceSite: ApiContext['announceSite'] = async () => {};
  if (config.redis) {
    // Redis (with BullMQ, or next to SQS) shares the rate limits and site announcements of all API servers.
    // Rate-limit counters and site announcements share one connection; failures never block a request.
    // Fail fast, like the producer: on a cluster a rate-limit check gives up after a few redirections.
    redis = createFailFastRedis(config.redis!, `${config.queue.name}:api`);
    subscriber = createRedis(config.redis!, { connectionName: `${config.queue.name}:sites` });
    subscriber.on('error', () => {});
    // Plain PUBLISH/SUBSCRIBE: on a cluster a message published on any node reaches the subscribers of
    // every node, and ioredis moves the subscription to another node when its node fails.
    const channel = `${config.queue.prefix}:${config.queue.name}:sites`;
    // Awaited for at most 2 s, so a server that says it listens normally hears every later change;
    // with Redis down the API still starts (and answers 503 for events), ioredis subscribes once it
    // connects, and the periodic refresh covers anything missed meanwhile.
    const subscribed = subscriber.subscribe(channel).catch((err: Error) => logger.warn(`Cannot subscribe to site announcements: ${err.message}`));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([subscribed, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    // A message names a site that was created, changed (keys, share link) or deleted: reloading it
    // from the store covers all three (a deleted site leaves the cache with its keys).
    subscriber.on('message', (_ch, siteId: string) => {
      sites.refreshSite(siteId).catch((err) => logger.warn({ err }, `Could not load announced site ${siteId}`));
    });
    announceSite = async (siteId) => {
      await redis!.publish(channel, siteId);
    };
  }

  const ctx: ApiContext = {
    config,
    store,
    queue,
    batcher: new EnqueueBatcher(queue, { maxBatch: config.ingest.batchMax, timeoutMs: config.ingest.enqueueTimeoutMs }),
    sites,
    announceSite,
    now: Date.now,
  };
  if (config.session.secretSource === 'random') {
    logger.warn(
      'Dashboard sessions are signed with a random per-process key (no SESSION_SECRET or ADMIN_TOKEN): they end when this process restarts and are not shared between API servers. Set SESSION_SECRET or ADMIN_TOKEN.',
    );
  }
  const app = await buildApp(ctx, { logger, redis, dashboardDir: dashboardDir() });
  const address = await app.listen({ port: config.port, host: config.host });
  logger.info(`API listening on ${address} (${queueLabel(config)}, ${store.kind} store)`);

  return {
    app,
    ctx,
    url: address,
    close: async () => {
      await app.close();
      sites.stop();
      await queue.close();
      subscriber?.disconnect();
      redis?.disconnect();
      await store.close();
    },
  };
}
