// The Fastify application: plugins, error shapes and routes. No I/O happens here; the server
// (src/server.ts) builds the context and listens.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../queue/redis.js';
import { batchedRedisStore } from './rate-limit-store.js';
import type { ApiContext } from './context.js';
import { registerQueueBoard } from './board/plugin.js';
import { ApiError, errorHandler } from './errors.js';
import { dashboardRoutes } from './dashboard.js';
import { authRoutes } from './routes/auth.js';
import { registerJsonParsers } from './json-body.js';
import { registerOpenApi } from './openapi/plugin.js';
import { eventRoutes } from './routes/event.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { readyRoutes } from './routes/ready.js';
import { registerRequestMetrics } from '../metrics/fastify.js';
import { siteRoutes } from './routes/sites.js';
import { statsRoutes } from './routes/stats.js';
import { trackerRoutes } from './routes/tracker.js';
import { sessionHook } from './session.js';

/**
 * TRUST_PROXY for Fastify. A hop count becomes a function (trust the first n hops from the socket),
 * because Fastify itself treats a bare number as "trust nothing": a hop count cannot tell a proxy
 * from a client that connects directly, so use it only where the proxies are the only way in.
 */
function trustProxyOption(tp: boolean | number | string[]): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof tp === 'number') return (_address, hop) => hop < tp;
  return tp;
}

export async function buildApp(
  ctx: ApiContext,
  opts: { logger: Logger; redis?: RedisClient; /** The built dashboard (dist/web); none: API only. */ dashboardDir?: string },
): Promise<FastifyInstance> {
  const { config } = ctx;
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxyOption(config.ingest.trustProxy),
    bodyLimit: config.ingest.bodyLimitBytes,
    return503OnClosing: true,
  });

  // First: every route registered after this is timed (per route pattern).
  registerRequestMetrics(app, ctx.metrics);

  app.setErrorHandler(errorHandler(config.env === 'development'));
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ success: false, error: 'Not found', message: `No route for ${req.method} ${req.url.split('?')[0]}` });
  });

  // navigator.sendBeacon posts text/plain (no CORS preflight): JSON sent that way is parsed by the
  // same parser, with the same rule, as application/json.
  registerJsonParsers(app);
  // Before the routes: the OpenAPI document is built from the schemas of the routes registered after it.
  await registerOpenApi(app);

  await app.register(cors, {
    origin: config.ingest.corsOrigin === '*' ? '*' : config.ingest.corsOrigin.split(',').map((o) => o.trim()),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'x-api-key', 'authorization'],
    maxAge: 86400,
  });

  // Writes (events, site creation) and reads (stats) have budgets of their own: a client looping
  // expensive reads cannot use up ingestion's, and the other way round. Each route counts its own.
  const write = config.ingest.rateLimit;
  const read = config.readRateLimit;
  if (write.max > 0 || read.max > 0) {
    await app.register(rateLimit, {
      global: false,
      // Shared by every API server when Redis is configured (the requests of one turn of the event
      // loop counted in one script call); per process otherwise.
      ...(opts.redis ? { store: batchedRedisStore(opts.redis, `${config.queue.prefix}:${config.queue.name}:ratelimit:`) } : {}),
      skipOnError: true,
      // req.ip follows TRUST_PROXY: the client address as the trusted proxies reported it.
      keyGenerator: (req) => req.ip,
    });
  }
  const limit = ({ max, windowSeconds }: { max: number; windowSeconds: number }) =>
    max > 0
      ? {
          max,
          timeWindow: windowSeconds * 1000,
          errorResponseBuilder: (_req: unknown, c: { max: number; ttl: number; after: string }) =>
            new ApiError(429, 'Rate limit exceeded', `At most ${c.max} requests per ${windowSeconds} s; retry in ${c.after}`, undefined, {
              'retry-after': String(Math.max(1, Math.ceil(c.ttl / 1000))),
            }),
        }
      : undefined;
  const writeLimit = limit(write);
  const readLimit = limit(read);

  // Dashboard sessions: read endpoints accept the cookie next to the Bearer header.
  app.decorateRequest('dashboardSession', undefined);
  app.addHook('onRequest', sessionHook(config, ctx.sites, ctx.now));

  eventRoutes(app, ctx, writeLimit);
  authRoutes(app, ctx, writeLimit);
  statsRoutes(app, ctx, readLimit);
  siteRoutes(app, ctx, writeLimit);
  healthRoutes(app, ctx);
  readyRoutes(app, ctx);
  metricsRoutes(app, ctx);
  trackerRoutes(app, ctx);
  await registerQueueBoard(app, config, { dashboardDir: opts.dashboardDir });
  if (opts.dashboardDir) await dashboardRoutes(app, opts.dashboardDir, opts.logger);
  return app;
}
