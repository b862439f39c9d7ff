// GET /api/stats (summary), /api/stats/breakdown (one dimension), /api/stats/realtime (now).
// Read from rollups and visit state. The queries are route schemas, validated by Fastify through
// fastify-type-provider-zod (the same zod objects, the same messages); each handler authorizes and
// calls one report.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BREAKDOWN_DIMENSIONS, dimensionByName } from '../../core/dimensions.js';
import type { Site } from '../../core/site.js';
import { toLocalIso } from '../../core/time.js';
import { breakdownReport } from '../../reports/breakdown.js';
import { realtimeReport } from '../../reports/realtime.js';
import { dayReport, last24hReport, rangeReport } from '../../reports/stats.js';
import { authorizeRead } from '../auth.js';
import { elapsed, type ApiContext } from '../context.js';
import { ApiError, validationFailed } from '../errors.js';
import { breakdownDocs, realtimeDocs, statsDocs } from '../openapi/stats.js';
import { validated } from '../openapi/shared.js';
import { periodQuery, resolvePeriod, type ResolvedPeriod } from '../period.js';

const siteId = z
  .string({ error: (i) => (i.input === undefined ? 'site_id is required' : 'site_id must be a string') })
  .min(1, { error: 'site_id is required' })
  .max(64, { error: 'site_id must be at most 64 characters' })
  .describe('The site');

const statsQuery = z.object({ site_id: siteId, ...periodQuery });

export const MAX_BREAKDOWN_LIMIT = 1000;
const breakdownQuery = z.object({
  site_id: siteId,
  ...periodQuery,
  dimension: z
    .string({ error: (i) => (i.input === undefined ? 'dimension is required' : 'dimension must be a string') })
    .describe(`One of: ${BREAKDOWN_DIMENSIONS.map((d) => d.name).join(', ')}`),
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int({ error: 'limit must be an integer' })
    .min(1, { error: 'limit must be at least 1' })
    .max(MAX_BREAKDOWN_LIMIT, { error: `limit must be at most ${MAX_BREAKDOWN_LIMIT}` })
    .default(10)
    .describe('Most rows (default 10)'),
  event: z.string().min(1).max(64).optional().describe('The custom event, for `property_key` and `property`'),
  property: z.string().min(1).max(64).optional().describe('The property, for `property`'),
});

const realtimeQuery = z.object({ site_id: siteId });

async function readableSite(ctx: ApiContext, req: FastifyRequest, id: string): Promise<Site> {
  authorizeRead(req, id, ctx.sites, ctx.config.adminToken);
  const site = ctx.sites.get(id) ?? (await ctx.store.getSite(id));
  if (!site) throw new ApiError(404, 'Not found', `Unknown site "${id}"`);
  return site;
}

/** The period as the answers show it. */
function describe(p: ResolvedPeriod, site: Site) {
  switch (p.kind) {
    case 'day':
      return { date: p.date, timezone: site.timezone };
    case 'range':
      return { from: p.from, to: p.to, timezone: site.timezone, granularity: p.granularity };
    case 'last24h':
      return { from: toLocalIso(p.period.from, site.timezone), to: toLocalIso(p.end, site.timezone), timezone: site.timezone };
  }
}

export function statsRoutes(fastify: FastifyInstance, ctx: ApiContext, rateLimit: object | undefined): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/api/stats', { config: { rateLimit }, ...validated({ ...statsDocs, querystring: statsQuery }) }, async (req, reply) => {
    const q = req.query;
    const site = await readableSite(ctx, req, q.site_id);
    const p = resolvePeriod(q, site, ctx.now());
    const data =
      p.kind === 'range'
        ? await rangeReport(ctx.store, site, p.from, p.to, p.granularity)
        : p.kind === 'day'
          ? await dayReport(ctx.store, site, p.date)
          : await last24hReport(ctx.store, site, p.end);
    return reply.send({ success: true, data, processing_time_ms: elapsed(reply) });
  });

  app.get('/api/stats/breakdown', { config: { rateLimit }, ...validated({ ...breakdownDocs, querystring: breakdownQuery }) }, async (req, reply) => {
    const q = req.query;
    const site = await readableSite(ctx, req, q.site_id);
    const dim = dimensionByName(q.dimension);
    if (!dim || !BREAKDOWN_DIMENSIONS.includes(dim)) {
      throw validationFailed([{ field: 'dimension', message: `dimension must be one of: ${BREAKDOWN_DIMENSIONS.map((d) => d.name).join(', ')}` }]);
    }
    const scope: string[] = [];
    for (const param of dim.scopeParams ?? []) {
      const v = q[param];
      if (v === undefined) throw validationFailed([{ field: param, message: `${param} is required for dimension=${dim.name}` }]);
      scope.push(v);
    }
    const p = resolvePeriod(q, site, ctx.now());
    const results = await breakdownReport(ctx.store, site, p.period, dim, scope, q.limit);
    return reply.send({
      success: true,
      data: { site_id: site.site_id, dimension: dim.name, ...(scope.length ? { event: scope[0], ...(scope[1] !== undefined ? { property: scope[1] } : {}) } : {}), period: describe(p, site), results },
      processing_time_ms: elapsed(reply),
    });
  });

  app.get('/api/stats/realtime', { config: { rateLimit }, ...validated({ ...realtimeDocs, querystring: realtimeQuery }) }, async (req, reply) => {
    const q = req.query;
    const site = await readableSite(ctx, req, q.site_id);
    const data = await realtimeReport(ctx.store, site, ctx.now());
    return reply.send({ success: true, data, processing_time_ms: elapsed(reply) });
  });
}
