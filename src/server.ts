// `npm start`: the HTTP API. With Redis or SQS it serves the API alone (workers are their own
// processes, `npm run worker:prod`); embedded, it also runs a worker in a thread of this process.
import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.js';
import { dashboardDir } from './api/dashboard.js';
import type { ApiContext } from './api/context.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { EnqueueBatcher } from './queue/batcher.js';
import { BindingGate, bindQueueToStore, openBinding, type StoreIdentity } from './queue/binding.js';
import { createEventQueue, embeddedQueueFile, queueLabel } from './queue/factory.js';
import type { BullmqEventQueue } from './queue/bullmq.js';
import type { EventQueue } from './queue/port.js';
import { createFailFastRedis, createRedis, describeRedis, logRedisAvailability, type RedisClient } from './queue/redis.js';
import { isConnectionError, untilReady } from './ready.js';
import { describeStore, openStoreWhenReady } from './store/index.js';
import { SiteCache } from './store/site-cache.js';
import { IngestPipeline } from './ingest/pipeline.js';
import { SaltCache } from './ingest/salts.js';
import { upcomingSaltDays } from './core/salt.js';
import { loadCountryDb } from './enrich/country.js';
import { createOperations } from './api/operations.js';
import { ApiMetrics } from './metrics/api.js';
import { createRegistry, type MetricsJson } from './metrics/registry.js';
import { withTimedReads } from './metrics/store-timing.js';

/** How often an API server re-reads the salts (deleted ones disappear; new ones are made on demand). */
const SALT_REFRESH_MS = 10 * 60_000;

export interface RunningServer {
  app: FastifyInstance;
  ctx: ApiContext;
  url: string;
  /** Merges another registry of this process (the embedded worker thread's) into /metrics. */
  addMetricsSource(source: () => Promise<MetricsJson>): void;
  /** Starts the warning about missing workers (at once, unless `deferWorkerWatch`); later calls do nothing. */
  startWorkerWatch(): void;
  close(): Promise<void>;
}

export interface ServerHooks {
  /** Called when the API must stop for good after it started (its queue is bound to another store). */
  onFatal?: (err: Error) => void;
  /**
   * The caller starts the worker watch itself (`startWorkerWatch`): `npm start` with its worker
   * thread, once the thread's worker runs, so a slow thread start is no reason to warn.
   */
  deferWorkerWatch?: boolean;
}

/** The API's store reads, timed for analytics_store_duration_seconds. */
const TIMED_READS = ['summary', 'breakdown', 'realtime', 'getSite', 'listSites'] as const;

export async function startServer(config: Config, logger: Logger, hooks: ServerHooks = {}, metrics = new ApiMetrics(createRegistry({ processMetrics: true }))): Promise<RunningServer> {
  const store = await openStoreWhenReady(config, logger);
  const identity: StoreIdentity = { id: await store.storeId(), description: describeStore(config) };
  const binding = openBinding(config, embeddedQueueFile(config));
  const sites = new SiteCache(store);
  await sites.load();
  sites.startRefresh(config.siteCacheRefreshMs, (err) => logger.warn({ err }, 'Site cache refresh failed'));
  const salts = new SaltCache(store);
  await salts.load();
  // Today's salts (every timezone's) and the country database before the first request, not on it.
  for (const day of upcomingSaltDays(Date.now())) await salts.ensure(day);
  salts.startRefresh(SALT_REFRESH_MS, (err) => logger.warn({ err }, 'Salt refresh failed'));
  loadCountryDb();

  let redis: RedisClient | undefined;
  let subscriber: RedisClient | undefined;
  let announceSite: ApiContext['announceSite'] = async () => {};
  const stopping = new AbortController();
  let queue: EventQueue;
  /** The adapter itself (BullMQ: behind its binding gate), for the queue's counts. */
  let producer: EventQueue;
  if (config.queue.kind === 'bullmq') {
    const bullmq = createEventQueue(config, logger) as BullmqEventQueue;
    producer = bullmq;
    logRedisAvailability(bullmq.redis, config.redis!, logger, 'events are answered 503 until it is back');
    // Redis may be down at start: the API starts anyway (events get 503), and binds the queue to its
    // store once Redis answers; until then the gate refuses events.
    const gate = new BindingGate(bullmq);
    queue = gate;
    const bound = untilReady({
      what: `Redis at ${describeRedis(config.redis!)} (to bind the queue to this API's store; events get 503 until then)`,
      attempt: () => bindQueueToStore(binding, identity, logger),
      isTransient: (err) => isConnectionError(err) || /Stream isn't writeable|max retries per request|Connection is closed/i.test((err as Error).message),
      logger,
      signal: stopping.signal,
    }).then(() => gate.open());
    // Redis up: bound before the API listens (a conflict refuses the start). Redis down: go on; the
    // binding follows once Redis answers, and a conflict found then stops the API.
    const first = await Promise.race([
      bound.then(() => 'bound' as const, (err: Error) => err),
      new Promise<'pending'>((r) => setTimeout(() => r('pending'), config.ingest.enqueueTimeoutMs).unref()),
    ]);
    if (first instanceof Error) {
      await binding.close();
      await bullmq.close();
      await store.close();
      throw first;
    }
    if (first === 'pending') {
      bound.catch((err: Error) => {
        if (stopping.signal.aborted) return;
        if (hooks.onFatal) hooks.onFatal(err);
        else logger.fatal(err.message);
      });
    }
  } else {
    // SQS and the embedded queue answer at once: bound before the API listens.
    try {
      await bindQueueToStore(binding, identity, logger);
    } catch (err) {
      await binding.close();
      await store.close();
      throw err;
    }
    queue = producer = createEventQueue(config, logger);
  }
  if (config.redis) {
    // Redis (with BullMQ, or next to SQS) shares the rate limits and site announcements of all API servers.
    // Rate-limit counters and site announcements share one connection; failures never block a request.
    // Fail fast, like the producer: on a cluster a rate-limit check gives up after a few redirections.
    // Auto-pipelining: the rate-limit checks of all requests handled in one event-loop turn go to Redis
    // in one write (one write per request cost ~13 µs of CPU per request, a fifth of the API's time).
    redis = createFailFastRedis(config.redis!, `${config.queue.name}:api`, { enableAutoPipelining: true });
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

  // Queue counts and worker heartbeats for /metrics, /api/ready and the warning about missing workers.
  const operations = createOperations({ config, queue, producer, store, metrics, logger });
  const metricsSources: (() => Promise<MetricsJson>)[] = [];

  const ctx: ApiContext = {
    config,
    store: withTimedReads(store, metrics.storeDuration, TIMED_READS),
    queue,
    batcher: new EnqueueBatcher(queue, { maxBatch: config.ingest.batchMax, timeoutMs: config.ingest.enqueueTimeoutMs }),
    sites,
    salts,
    ingest: new IngestPipeline(salts, { retentionDays: config.retentionDays, maxFutureSkewMs: config.ingest.maxFutureSkewMs }),
    announceSite,
    now: Date.now,
    metrics,
    metricsSources,
    readiness: operations.readiness,
  };
  if (config.session.secretSource === 'random') {
    logger.warn(
      'Dashboard sessions are signed with a random per-process key (no SESSION_SECRET or ADMIN_TOKEN): they end when this process restarts and are not shared between API servers. Set SESSION_SECRET or ADMIN_TOKEN.',
    );
  }
  const app = await buildApp(ctx, { logger, redis, dashboardDir: dashboardDir() });
  const address = await app.listen({ port: config.port, host: config.host });
  logger.info(`API listening on ${address} (${queueLabel(config)}, ${store.kind} store)`);
  if (!hooks.deferWorkerWatch) operations.startWorkerWatch();
  if (config.ingest.trustProxy === true) {
    logger.warn('TRUST_PROXY=true trusts every X-Forwarded-For entry, which clients can write themselves: set the hop count or the addresses of your proxies instead (see the README)');
  }

  return {
    app,
    ctx,
    url: address,
    addMetricsSource: (source) => void metricsSources.push(source),
    startWorkerWatch: () => operations.startWorkerWatch(),
    close: async () => {
      stopping.abort();
      await app.close();
      await operations.close();
      sites.stop();
      salts.stop();
      await queue.close();
      await binding.close();
      subscriber?.disconnect();
      redis?.disconnect();
      await store.close();
    },
  };
}
