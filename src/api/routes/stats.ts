// GET /api/stats — one day, the last 24 hours, or a range of days; read from rollups.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MAX_DAY, MIN_DAY, daysBetween, isSupportedDay, isValidDay } from '../../core/time.js';
import { dayReport, last24hReport, rangeReport } from '../../reports/stats.js';
import { authorizeRead } from '../auth.js';
import { elapsed, type ApiContext } from '../context.js';
import { ApiError, fromZod, validationFailed } from '../errors.js';

const MAX_RANGE_DAYS = 366;
const MAX_HOURLY_DAYS = 7;

const day = (name: string) =>
  z
    .string({ error: `${name} must be a date in YYYY-MM-DD format` })
    .refine(isValidDay, { error: `${name} must be a valid date in YYYY-MM-DD format`, abort: true })
    // Date arithmetic is only defined on four-digit years; past them a request could loop forever.
    .refine(isSupportedDay, { error: `${name} must be between ${MIN_DAY} and ${MAX_DAY}` })
    .optional();

const querySchema = z.object({
  site_id: z
    .string({ error: (i) => (i.input === undefined ? 'site_id is required' : 'site_id must be a string') })
    .min(1, { error: 'site_id is required' }),
  date: day('date'),
  from: day('from'),
  to: day('to'),
  granularity: z.enum(['day', 'hour'], { error: 'granularity must be "day" or "hour"' }).optional(),
});

export function statsRoutes(app: FastifyInstance, ctx: ApiContext, rateLimit: object | undefined): void {
  app.get('/api/stats', { config: { rateLimit } }, async (req, reply) => {
    const parsed = querySchema.safeParse(req.query);
    if (!parsed.success) throw fromZod(parsed.error, 'query');
    const q = parsed.data;
    authorizeRead(req, q.site_id, ctx.sites, ctx.config.adminToken);
    const site = ctx.sites.get(q.site_id) ?? (await ctx.store.getSite(q.site_id));
    if (!site) throw new ApiError(404, 'Not found', `Unknown site "${q.site_id}"`);

    let data;
    if (q.from !== undefined || q.to !== undefined) {
      if (q.date !== undefined) throw validationFailed([{ field: 'date', message: 'use either date, or from and to' }]);
      if (q.from === undefined || q.to === undefined) {
        throw validationFailed([{ field: q.from === undefined ? 'from' : 'to', message: 'from and to must be given together' }]);
      }
      if (q.from > q.to) throw validationFailed([{ field: 'from', message: 'from must not be after to' }]);
      const span = daysBetween(q.from, q.to);
      if (span > MAX_RANGE_DAYS) throw validationFailed([{ field: 'to', message: `a range covers at most ${MAX_RANGE_DAYS} days` }]);
      const granularity = q.granularity ?? 'day';
      if (granularity === 'hour' && span > MAX_HOURLY_DAYS) {
        throw validationFailed([{ field: 'granularity', message: `granularity=hour allows at most ${MAX_HOURLY_DAYS} days` }]);
      }
      data = await rangeReport(ctx.store, site, q.from, q.to, granularity);
    } else if (q.date !== undefined) {
      data = await dayReport(ctx.store, site, q.date);
    } else {
      data = await last24hReport(ctx.store, site, ctx.now());
    }
    return reply.send({ success: true, data, processing_time_ms: elapsed(reply) });
  });
}
