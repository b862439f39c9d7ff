// POST /api/event and POST /api/event/batch — ingestion: authenticate, run the ingestion steps
// (src/ingest/pipeline.ts), queue, answer. Never touches the database.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { IgnoreReason, QueuedEvent } from '../../core/event.js';
import type { Site } from '../../core/site.js';
import type { IngestResult } from '../../ingest/pipeline.js';
import { ingestSite } from '../auth.js';
import { elapsed, type ApiContext } from '../context.js';
import { ApiError, validationFailed, type FieldError } from '../errors.js';
import { ingestRejectionHook } from '../../metrics/fastify.js';
import { batchDocs, eventDocs } from '../openapi/events.js';

function request(req: FastifyRequest, site: Site, body: unknown, now: number) {
  return {
    body,
    site,
    ip: req.ip,
    userAgent: req.headers['user-agent'],
    acceptLanguage: typeof req.headers['accept-language'] === 'string' ? req.headers['accept-language'] : undefined,
    now,
  };
}

type BatchResult =
  | { index: number; status: 'accepted' }
  | { index: number; status: 'ignored'; reason: IgnoreReason }
  | { index: number; status: 'refused'; code: number; error: string; message?: string; details?: FieldError[] };

export function eventRoutes(app: FastifyInstance, ctx: ApiContext, rateLimit: object | undefined): void {
  const metrics = ctx.metrics;
  // Refusals are counted when the answer goes out (whichever step refused: rate limit, body, key, queue).
  app.post('/api/event', { config: { rateLimit }, onResponse: ingestRejectionHook(metrics, 'event'), ...eventDocs }, async (req, reply) => {
    const site = ingestSite(req, ctx.sites);
    const result = await ctx.ingest.run(request(req, site, req.body, ctx.now()));
    await ctx.batcher.add(result.event);
    metrics.acceptEvent(result.kind === 'ignored' ? result.reason : undefined);
    if (result.kind === 'ignored') {
      return reply.code(202).send({ success: true, message: `Event ignored: ${result.reason}`, ignored: result.reason, processing_time_ms: elapsed(reply) });
    }
    return reply.code(202).send({ success: true, message: 'Event queued successfully', processing_time_ms: elapsed(reply) });
  });

  const batchBody = z.object(
    {
      events: z
        .array(z.unknown(), { error: 'events must be an array' })
        .min(1, { error: 'events must not be empty' })
        .max(ctx.config.ingest.eventBatchMax, { error: `events holds at most ${ctx.config.ingest.eventBatchMax} events` }),
    },
    { error: 'Request body must be a JSON object' },
  );

  app.post(
    '/api/event/batch',
    { config: { rateLimit }, bodyLimit: ctx.config.ingest.batchBodyLimitBytes, onResponse: ingestRejectionHook(metrics, 'batch'), ...batchDocs(ctx.config) },
    async (req, reply) => {
    const site = ingestSite(req, ctx.sites);
    const parsed = batchBody.safeParse(req.body);
    if (!parsed.success) {
      throw validationFailed(parsed.error.issues.map((i) => ({ field: i.path.length ? i.path.join('.') : 'body', message: i.message })));
    }
    const now = ctx.now();
    const results: BatchResult[] = [];
    const queued: QueuedEvent[] = [];
    for (const [index, body] of parsed.data.events.entries()) {
      let r: IngestResult;
      try {
        r = await ctx.ingest.run(request(req, site, body, now));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        results.push({
          index,
          status: 'refused',
          code: err.statusCode,
          error: err.error,
          ...(err.message !== err.error ? { message: err.message } : {}),
          ...(err.details ? { details: err.details } : {}),
        });
        continue;
      }
      queued.push(r.event);
      results.push(r.kind === 'ignored' ? { index, status: 'ignored', reason: r.reason } : { index, status: 'accepted' });
    }
    const count = (s: BatchResult['status']) => results.filter((r) => r.status === s).length;
    const summary = { accepted: count('accepted'), ignored: count('ignored'), refused: count('refused') };
    // Each event refused by its own steps counts under its own status; the rest under the answer's.
    req.ingestCounted = true;
    for (const r of results) if (r.status === 'refused') metrics.rejectEvents(r.code);
    if (queued.length === 0) {
      // Nothing to queue: the batch is refused as a whole, with each event's reasons.
      const refused = results as Extract<BatchResult, { status: 'refused' }>[];
      const status = refused.every((r) => r.code === refused[0]!.code) ? refused[0]!.code : 400;
      // One of the statuses an event alone can get (all documented).
      return reply.code(status as 400).send({
        success: false,
        error: status === 400 ? 'Validation failed' : refused[0]!.error,
        message: 'No event of the batch was accepted',
        details: refused.flatMap((r) => (r.details ?? [{ field: 'body', message: r.message ?? r.error }]).map((d) => ({ field: `events.${r.index}.${d.field}`, message: d.message }))),
        ...summary,
        results,
      });
    }
    // One job for the whole request: acknowledged (202) or refused (503) together.
    try {
      await ctx.batcher.addAll(queued);
    } catch (err) {
      metrics.rejectEvents(err instanceof ApiError ? err.statusCode : 503, queued.length);
      throw err;
    }
    for (const r of results) if (r.status !== 'refused') metrics.acceptEvent(r.status === 'ignored' ? r.reason : undefined);
    return reply.code(202).send({
      success: true,
      message: `${summary.accepted} queued, ${summary.ignored} ignored, ${summary.refused} refused`,
      ...summary,
      results,
      processing_time_ms: elapsed(reply),
    });
    },
  );
}
