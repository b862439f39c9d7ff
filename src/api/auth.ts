// Credentials. Ingestion: the site's API key in x-api-key (public, may sit in a web page).
// Reading: `Authorization: Bearer <read key>` for one site, or the ADMIN_TOKEN for all.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { hashKey, type Site } from '../core/site.js';
import type { SiteCache } from '../store/site-cache.js';
import { ApiError } from './errors.js';

export function bearerToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1]?.trim();
}

export function isAdminToken(token: string | undefined, adminToken: string | undefined): boolean {
  if (!token || !adminToken) return false;
  const a = Buffer.from(hashKey(token));
  const b = Buffer.from(hashKey(adminToken));
  return timingSafeEqual(a, b);
}

export function requireAdmin(req: FastifyRequest, adminToken: string | undefined): void {
  if (!adminToken) return; // local use: open
  const token = bearerToken(req);
  if (!token) throw new ApiError(401, 'Unauthorized', 'Send Authorization: Bearer <ADMIN_TOKEN>');
  if (!isAdminToken(token, adminToken)) throw new ApiError(403, 'Forbidden', 'Invalid admin token');
}

/**
 * The site whose ingestion key the request carries: the x-api-key header, or the `api_key` query
 * parameter for navigator.sendBeacon, which cannot set headers (the key is public anyway).
 */
export function ingestSite(req: FastifyRequest, sites: SiteCache): Site {
  const header = req.headers['x-api-key'];
  const query = (req.query as { api_key?: unknown } | undefined)?.api_key;
  const key = typeof header === 'string' && header !== '' ? header : typeof query === 'string' ? query : undefined;
  if (!key) throw new ApiError(401, 'Unauthorized', 'Missing x-api-key header');
  const site = sites.byApiKeyHash(hashKey(key));
  if (!site) throw new ApiError(401, 'Unauthorized', 'Invalid API key');
  return site;
}

/** Checks that the request may read statistics of `siteId`. */
export function authorizeRead(req: FastifyRequest, siteId: string, sites: SiteCache, adminToken: string | undefined): void {
  const token = bearerToken(req);
  if (!token) {
    const hint = req.headers['x-api-key'] ? ' (the x-api-key ingestion key cannot read statistics)' : '';
    throw new ApiError(401, 'Unauthorized', `Send Authorization: Bearer <read_key or ADMIN_TOKEN>${hint}`);
  }
  if (isAdminToken(token, adminToken)) return;
  const hash = hashKey(token);
  const site = sites.byReadKeyHash(hash);
  if (!site) {
    if (sites.byApiKeyHash(hash)) throw new ApiError(403, 'Forbidden', 'An ingestion API key cannot read statistics; use the read key');
    throw new ApiError(401, 'Unauthorized', 'Invalid read key');
  }
  if (site.site_id !== siteId) throw new ApiError(403, 'Forbidden', 'This read key belongs to another site');
}
