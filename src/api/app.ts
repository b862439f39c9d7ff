// The Fastify application: plugins, error shapes and routes. No I/O happens here; the server
// (src/server.ts) builds the context and listens.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../queue/redis.js';
import type { ApiContext } from './context.js';
import { ApiError, errorHandler } from './errors.js';
import { dashboardRoutes } from './dashboard.js';
import { authRoutes } from './routes/auth.js';
import { eventRoutes } from './routes/event.js';
import { healthRoutes } from './routes/health.js';
import { siteRoutes } from './routes/sites.js';
import { statsRoutes } from './routes/stats.js';
import { trackerRoutes } from './routes/tracker.js';
import { sessionHook } from './session.js';

export async function buildApp(
  ctx: ApiContext,
  opts: { logger: Logger; redis?: RedisClient; /** The built dashboard (dist/web); none: API only. */ dashboardDir?: string },
): Promise<FastifyInstance> {
  const { config } = ctx;
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.ingest.trustProxy,
    bodyLimit: config.ingest.bodyLimitBytes,
    return503OnClosing: true,
  });

  app.setErrorHandler(errorHandler(config.env === 'development'));
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ success: false, error: 'Not found', message: `No route for ${req.method} ${req.url.split('?')[0]}` });
  });

  // navigator.sendBeacon posts text/plain (no CORS preflight): accept JSON sent that way too.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'ignore'));

  await app.register(cors, {
    origin: config.ingest.corsOrigin === '*' ? '*' : config.ingest.corsOrigin.split(',').map((o) => o.trim()),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'x-api-key', 'authorization'],
    maxAge: 86400,
  });

  const { max, windowSeconds } = config.ingest.rateLimit;
  let limit: object | undefined;
  if (max > 0) {
    await app.register(rateLimit, {
      global: false,
      // Shared by every API server when Redis is configured; per process otherwise.
      redis: opts.redis,
      nameSpace: `${config.queue.prefix}:${config.queue.name}:ratelimit:`,
      skipOnError: true,
      keyGenerator: (req) => req.ip,
      errorResponseBuilder: (_req, c) =>
        new ApiError(429, 'Rate limit exceeded', `At most ${c.max} requests per ${windowSeconds} s; retry in ${c.after}`, undefined, {
          'retry-after': String(Math.max(1, Math.ceil(c.ttl / 1000))),
        }),
    });
    limit = { max, timeWindow: windowSeconds * 1000 };
  }

  // Dashboard sessions: read endpoints accept the cookie next to the Bearer header.
  app.decorateRequest('dashboardSession', undefined);
  app.addHook('onRequest', sessionHook(config, ctx.sites, ctx.now));

  eventRoutes(app, ctx, limit);
  authRoutes(app, ctx, limit);
  statsRoutes(app, ctx);
  siteRoutes(app, ctx, limit);
  healthRoutes(app, ctx);
  trackerRoutes(app, ctx);
  if (opts.dashboardDir) await dashboardRoutes(app, opts.dashboardDir, opts.logger);
  return app;
}
