// POST /api/event — ingestion: authenticate, validate, queue, answer. Never touches the database.
import type { FastifyInstance } from 'fastify';
import { checkTimestamp, eventInputSchema, toQueuedEvent } from '../../core/event.js';
import { ingestSite } from '../auth.js';
import { elapsed, type ApiContext } from '../context.js';
import { ApiError, fromZod, validationFailed } from '../errors.js';

export function eventRoutes(app: FastifyInstance, ctx: ApiContext, rateLimit: object | undefined): void {
  app.post('/api/event', { config: { rateLimit } }, async (req, reply) => {
    const site = ingestSite(req, ctx.sites);
    const parsed = eventInputSchema.safeParse(req.body);
    if (!parsed.success) throw fromZod(parsed.error);
    const input = parsed.data;
    if (input.site_id !== site.site_id) throw new ApiError(403, 'Forbidden', `This API key does not belong to site "${input.site_id}"`);
    const now = ctx.now();
    const time = checkTimestamp(input.timestamp, now, {
      retentionDays: ctx.config.retentionDays,
      maxFutureSkewMs: ctx.config.ingest.maxFutureSkewMs,
    });
    if (!time.ok) throw validationFailed([{ field: 'timestamp', message: time.message }]);
    await ctx.batcher.add(toQueuedEvent(input, time.ts, now));
    return reply.code(202).send({ success: true, message: 'Event queued successfully', processing_time_ms: elapsed(reply) });
  });
}
