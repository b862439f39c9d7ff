// Credentials. Ingestion: the site's API key in x-api-key (public, may sit in a web page).
// Reading: `Authorization: Bearer <read key>` for one site, a share token (`sh_…`) for one site's
// statistics, or the ADMIN_TOKEN for all; or, from the dashboard, its session cookie (session.ts).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { hashKey, type Site } from '../core/site.js';
import type { SiteCache } from '../store/site-cache.js';
import { ApiError } from './errors.js';

export function bearerToken(req: FastifyRequest): string | undefined {
  return bearerFromHeader(req.headers.authorization);
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerFromHeader(header: string | undefined): string | undefined {
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

/** Site creation: the admin token (Bearer or an admin session), or anyone when ADMIN_TOKEN is unset (local use). */
export function requireAdmin(req: FastifyRequest, adminToken: string | undefined): void {
  if (!adminToken) return; // local use: open
  checkAdmin(req, adminToken);
}

/**
 * Deleting a site, rotating its keys, sharing it: always the admin (Bearer or an admin session);
 * without ADMIN_TOKEN there is no admin, so nobody.
 */
export function requireAdminAlways(req: FastifyRequest, adminToken: string | undefined): void {
  if (!adminToken) throw new ApiError(403, 'Forbidden', 'Set ADMIN_TOKEN on the server to delete sites, rotate keys or share them');
  checkAdmin(req, adminToken);
}

function checkAdmin(req: FastifyRequest, adminToken: string): void {
  const token = bearerToken(req);
  if (!token) {
    const session = req.dashboardSession;
    if (session?.role === 'admin') {
      if (!isSafeMethod(req.method) && !session.sameOrigin) throw crossSiteRefused();
      return;
    }
    if (session) throw new ApiError(403, 'Forbidden', 'This needs the admin token; the session is a site read key');
    throw new ApiError(401, 'Unauthorized', 'Send Authorization: Bearer <ADMIN_TOKEN>');
  }
  if (!isAdminToken(token, adminToken)) throw new ApiError(403, 'Forbidden', 'Invalid admin token');
}

export const isSafeMethod = (method: string) => method === 'GET' || method === 'HEAD' || method === 'OPTIONS';

export function crossSiteRefused(): ApiError {
  return new ApiError(403, 'Forbidden', 'Cookie-authenticated changes must come from the dashboard itself (x-requested-with header, same Origin)');
}

export type Reader = { role: 'admin' } | { role: 'site'; site: Site; via: 'read_key' | 'share' | 'session' };

/**
 * Who reads: the admin, or one site through its read key, its share token or a session. Undefined
 * with no credential at all.
 */
export function reader(req: FastifyRequest, sites: SiteCache, adminToken: string | undefined): Reader | undefined {
  const token = bearerToken(req);
  if (!token) {
    const session = req.dashboardSession;
    if (!session) return undefined;
    if (session.role === 'admin') return { role: 'admin' };
    const site = sites.get(session.site_id!);
    return site ? { role: 'site', site, via: 'session' } : undefined;
  }
  if (isAdminToken(token, adminToken)) return { role: 'admin' };
  const hash = hashKey(token);
  const shared = token.startsWith('sh_') ? sites.byShareTokenHash(hash) : undefined;
  if (shared) return { role: 'site', site: shared, via: 'share' };
  const site = sites.byReadKeyHash(hash);
  if (!site) {
    if (sites.byApiKeyHash(hash)) throw new ApiError(403, 'Forbidden', 'An ingestion API key cannot read statistics; use the read key');
    if (token.startsWith('sh_')) throw new ApiError(401, 'Unauthorized', 'Invalid or revoked share token');
    throw new ApiError(401, 'Unauthorized', 'Invalid read key');
  }
  return { role: 'site', site, via: 'read_key' };
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

/**
 * Checks that the request may read statistics of `siteId`: the admin token, that site's read key
 * or share token (Bearer), or a dashboard session of the admin or of that site (cookie).
 */
export function authorizeRead(req: FastifyRequest, siteId: string, sites: SiteCache, adminToken: string | undefined): void {
  const who = reader(req, sites, adminToken);
  if (!who) {
    const hint = req.headers['x-api-key'] ? ' (the x-api-key ingestion key cannot read statistics)' : '';
    throw new ApiError(401, 'Unauthorized', `Send Authorization: Bearer <read_key or ADMIN_TOKEN>${hint}`);
  }
  if (who.role === 'admin' || who.site.site_id === siteId) return;
  const what = who.via === 'share' ? 'share token' : who.via === 'session' ? 'session' : 'read key';
  throw new ApiError(403, 'Forbidden', `This ${what} belongs to another site`);
}
