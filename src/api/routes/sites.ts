// POST /api/site/create — a site and its keys (shown once).
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { candidateSiteId, newSite, siteInputSchema, slugify, type NewSite } from '../../core/site.js';
import { SiteExistsError } from '../../store/port.js';
import { requireAdmin } from '../auth.js';
import type { ApiContext } from '../context.js';
import { ApiError, fromZod } from '../errors.js';

/** Numbered candidates tried before a random suffix: "shop-2" … "shop-50". */
const NUMBERED_CANDIDATES = 50;

export function siteRoutes(app: FastifyInstance, ctx: ApiContext, rateLimit: object | undefined): void {
  app.post('/api/site/create', { config: { rateLimit } }, async (req, reply) => {
    requireAdmin(req, ctx.config.adminToken);
    const parsed = siteInputSchema.safeParse(req.body);
    if (!parsed.success) throw fromZod(parsed.error);
    const { name, timezone, site_id: explicit } = parsed.data;
    const created = explicit !== undefined ? await createExplicit(ctx, explicit, name, timezone) : await createDerived(ctx, slugify(name), name, timezone);
    const siteId = created.site.site_id;
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

/** The id the client asked for: taken means 409. */
async function createExplicit(ctx: ApiContext, siteId: string, name: string, timezone: string): Promise<NewSite> {
  const created = newSite(siteId, name, timezone, ctx.now());
  try {
    await ctx.store.createSite(created.site);
  } catch (err) {
    if (err instanceof SiteExistsError) throw new ApiError(409, 'Conflict', `A site with id "${siteId}" already exists`);
    throw err;
  }
  return created;
}

/**
 * An id derived from the name, made unique: "shop", then "shop-2", "shop-3", … and past those a
 * random suffix. The store's unique key decides; the in-memory sites only skip known ids quickly.
 */
async function createDerived(ctx: ApiContext, slug: string, name: string, timezone: string): Promise<NewSite> {
  for (let n = 1, conflicts = 0; ; n++) {
    const siteId =
      n <= NUMBERED_CANDIDATES ? candidateSiteId(slug, n) : `${slug.slice(0, 55).replace(/-+$/, '')}-${randomBytes(6).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
    if (n <= NUMBERED_CANDIDATES && ctx.sites.get(siteId)) continue;
    const created = newSite(siteId, name, timezone, ctx.now());
    try {
      await ctx.store.createSite(created.site);
      return created;
    } catch (err) {
      if (!(err instanceof SiteExistsError)) throw err;
      // Bounded: a store that keeps answering "taken" is broken, not full.
      if (++conflicts > NUMBERED_CANDIDATES + 20) throw err;
    }
  }
}
