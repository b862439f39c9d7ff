// Sites: POST /api/site/create (keys shown once), GET /api/sites, DELETE /api/sites/:site_id,
// POST /api/sites/:site_id/rotate-keys, POST|DELETE /api/sites/:site_id/share.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { candidateSiteId, generateKey, hashKey, newSite, rotatedKeys, siteInputSchema, slugify, type NewSite, type Site } from '../../core/site.js';
import { SiteExistsError } from '../../store/port.js';
import { reader, requireAdmin, requireAdminAlways } from '../auth.js';
import type { ApiContext } from '../context.js';
import { ApiError, fromZod } from '../errors.js';
import { createSiteDocs, deleteSiteDocs, listSitesDocs, rotateKeysDocs, shareOffDocs, shareOnDocs } from '../openapi/sites.js';

/** Numbered candidates tried before a random suffix: "shop-2" … "shop-50". */
const NUMBERED_CANDIDATES = 50;

/** The answer of creation and rotation: the keys in clear, this once. */
function withKeys(site: Site, apiKey: string, readKey: string) {
  return {
    site_id: site.site_id,
    name: site.name,
    timezone: site.timezone,
    api_key: apiKey,
    read_key: readKey,
    created_at: new Date(site.created_at).toISOString(),
  };
}

const listed = (site: Site) => ({
  site_id: site.site_id,
  name: site.name,
  timezone: site.timezone,
  created_at: new Date(site.created_at).toISOString(),
  shared: site.share_token_hash !== undefined,
});

export function siteRoutes(app: FastifyInstance, ctx: ApiContext, rateLimit: object | undefined): void {
  /** Tells the other API servers to reload this site; a failure only delays them (periodic refresh). */
  const announce = (req: FastifyRequest, siteId: string) =>
    ctx.announceSite(siteId).catch((err) => req.log.warn({ err }, `Could not announce the change of site ${siteId} to other servers`));

  /** The stored site (not the cache: another server may have changed it), or 404. */
  async function existing(siteId: string): Promise<Site> {
    const site = await ctx.store.getSite(siteId);
    if (!site) throw new ApiError(404, 'Not found', `Unknown site "${siteId}"`);
    return site;
  }

  app.post('/api/site/create', { config: { rateLimit }, ...createSiteDocs(siteInputSchema) }, async (req, reply) => {
    requireAdmin(req, ctx.config.adminToken);
    const parsed = siteInputSchema.safeParse(req.body);
    if (!parsed.success) throw fromZod(parsed.error);
    const { name, timezone, site_id: explicit } = parsed.data;
    const created = explicit !== undefined ? await createExplicit(ctx, explicit, name, timezone) : await createDerived(ctx, slugify(name), name, timezone);
    const siteId = created.site.site_id;
    ctx.sites.add(created.site);
    await announce(req, siteId);
    return reply.code(201).send({ success: true, data: withKeys(created.site, created.apiKey, created.readKey) });
  });

  app.get('/api/sites', listSitesDocs, async (req, reply) => {
    const who = reader(req, ctx.sites, ctx.config.adminToken);
    if (!who) throw new ApiError(401, 'Unauthorized', 'Send Authorization: Bearer <read_key or ADMIN_TOKEN>, or log in on the dashboard');
    const sites = who.role === 'admin' ? await ctx.store.listSites() : [who.site];
    // A share link shows the site's name and timezone, nothing about its keys or sharing.
    const data = who.role === 'site' && who.via === 'share' ? sites.map(({ site_id, name, timezone }) => ({ site_id, name, timezone })) : sites.map(listed);
    return reply.header('cache-control', 'no-store').send({ success: true, data });
  });

  app.delete<{ Params: { site_id: string } }>('/api/sites/:site_id', { config: { rateLimit }, ...deleteSiteDocs }, async (req, reply) => {
    requireAdminAlways(req, ctx.config.adminToken);
    const siteId = req.params.site_id;
    await existing(siteId);
    await ctx.store.deleteSite(siteId, ctx.now());
    ctx.sites.remove(siteId);
    await announce(req, siteId);
    return reply.send({ success: true, data: { site_id: siteId, deleted: true } });
  });

  app.post<{ Params: { site_id: string } }>('/api/sites/:site_id/rotate-keys', { config: { rateLimit }, ...rotateKeysDocs }, async (req, reply) => {
    requireAdminAlways(req, ctx.config.adminToken);
    const site = await existing(req.params.site_id);
    const keys = rotatedKeys();
    if (!(await ctx.store.updateSite(site.site_id, keys.hashes))) throw new ApiError(404, 'Not found', `Unknown site "${site.site_id}"`);
    const updated: Site = { ...site, ...keys.hashes };
    ctx.sites.add(updated);
    await announce(req, site.site_id);
    return reply.send({ success: true, data: withKeys(updated, keys.apiKey, keys.readKey) });
  });

  app.post<{ Params: { site_id: string } }>('/api/sites/:site_id/share', { config: { rateLimit }, ...shareOnDocs }, async (req, reply) => {
    requireAdminAlways(req, ctx.config.adminToken);
    const site = await existing(req.params.site_id);
    // A new token each time: turning sharing on again ends the previous link.
    const token = generateKey('share');
    const shareHash = hashKey(token);
    await ctx.store.updateSite(site.site_id, { share_token_hash: shareHash });
    ctx.sites.add({ ...site, share_token_hash: shareHash });
    await announce(req, site.site_id);
    return reply.code(201).send({ success: true, data: { site_id: site.site_id, share_token: token, url: `${origin(req, ctx)}/share/${token}` } });
  });

  app.delete<{ Params: { site_id: string } }>('/api/sites/:site_id/share', { config: { rateLimit }, ...shareOffDocs }, async (req, reply: FastifyReply) => {
    requireAdminAlways(req, ctx.config.adminToken);
    const site = await existing(req.params.site_id);
    await ctx.store.updateSite(site.site_id, { share_token_hash: null });
    const { share_token_hash: _gone, ...rest } = site;
    ctx.sites.add(rest);
    await announce(req, site.site_id);
    return reply.send({ success: true, data: { site_id: site.site_id, shared: false } });
  });
}

/** Where people reach this server: PUBLIC_URL, else the request's own origin. */
function origin(req: FastifyRequest, ctx: ApiContext): string {
  return ctx.config.publicUrl ?? `${req.protocol}://${req.host}`;
}

/** The id the client asked for: taken means 409. */
async function createExplicit(ctx: ApiContext, siteId: string, name: string, timezone: string): Promise<NewSite> {
  const created = newSite(siteId, name, timezone, ctx.now());
  try {
    await ctx.store.createSite(created.site);
  } catch (err) {
    if (err instanceof SiteExistsError) {
      throw new ApiError(
        409,
        'Conflict',
        err.reason === 'deleted'
          ? `The site id "${siteId}" belonged to a deleted site and is not reused; choose another one`
          : `A site with id "${siteId}" already exists`,
      );
    }
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
