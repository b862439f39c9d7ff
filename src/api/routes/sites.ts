// POST /api/site/create — a site and its keys (shown once).
import type { FastifyInstance } from 'fastify';
import { newSite, siteInputSchema, slugify } from '../../core/site.js';
import { SiteExistsError } from '../../store/port.js';
import { requireAdmin } from '../auth.js';
import type { ApiContext } from '../context.js';
import { ApiError, fromZod, validationFailed } from '../errors.js';

export function siteRoutes(app: FastifyInstance, ctx: ApiContext, rateLimit: object | undefined): void {
  app.post('/api/site/create', { config: { rateLimit } }, async (req, reply) => {
    requireAdmin(req, ctx.config.adminToken);
    const parsed = siteInputSchema.safeParse(req.body);
    if (!parsed.success) throw fromZod(parsed.error);
    const { name, timezone } = parsed.data;
    const siteId = slugify(name);
    if (!siteId) throw validationFailed([{ field: 'name', message: 'name must contain letters or digits' }]);
    const created = newSite(siteId, name, timezone, ctx.now());
    try {
      await ctx.store.createSite(created.site);
    } catch (err) {
      if (err instanceof SiteExistsError) throw new ApiError(409, 'Conflict', `A site with id "${siteId}" already exists`);
      throw err;
    }
    ctx.sites.add(created.site);
    await ctx.announceSite(siteId).catch((err) => req.log.warn({ err }, 'Could not announce the new site to other servers'));
    return reply.code(201).send({
      success: true,
      data: {
        site_id: siteId,
        name,
        timezone,
        api_key: created.apiKey,
        read_key: created.readKey,
        created_at: new Date(created.site.created_at).toISOString(),
      },
    });
  });
}
