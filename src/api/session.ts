// Dashboard sessions: a stateless, HMAC-signed cookie issued by POST /api/auth/login in exchange
// for the admin token or a site's read key, so the token itself never stays readable by page
// scripts. The cookie holds the role, the site, a fingerprint of the credential's stored hash (a
// key rotation, a site deletion or a new ADMIN_TOKEN ends the sessions made with the old one), and
// its issue and expiry times.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { hashKey, type Site } from '../core/site.js';
import type { SiteCache } from '../store/site-cache.js';

export const SESSION_COOKIE = 'wa_session';
/** The header every cookie-authenticated mutation must carry: a cross-origin page cannot send it without a preflight our CORS setup refuses. */
export const CSRF_HEADER = 'x-requested-with';

export type Role = 'admin' | 'site';

export interface DashboardSession {
  role: Role;
  site_id?: string;
  issued_at: number;
  expires_at: number;
  /** The request is a same-origin one from the dashboard (custom header, matching Origin): may mutate. */
  sameOrigin: boolean;
}

interface Payload {
  v: 1;
  r: Role;
  s?: string;
  f: string;
  iat: number;
  exp: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified dashboard session of the request's cookie, if any (set by sessionHook). */
    dashboardSession?: DashboardSession;
  }
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function fingerprint(role: Role, keyHash: string): string {
  return createHash('sha256').update(`${role}:${keyHash}`).digest('base64url').slice(0, 22);
}

function sign(secret: Buffer, body: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url');
}

/** The fingerprint a session of this role must carry now (undefined: no such session can be valid). */
function currentFingerprint(role: Role, siteId: string | undefined, adminToken: string | undefined, sites: SiteCache): string | undefined {
  if (role === 'admin') return adminToken ? fingerprint('admin', hashKey(adminToken)) : undefined;
  const site = siteId ? sites.get(siteId) : undefined;
  return site ? fingerprint('site', site.read_key_hash) : undefined;
}

export function issueSession(config: Config, who: { role: 'admin' } | { role: 'site'; site: Site }, now: number): { cookie: string; expiresAt: number } {
  const payload: Payload = {
    v: 1,
    r: who.role,
    ...(who.role === 'site' ? { s: who.site.site_id } : {}),
    f: who.role === 'admin' ? fingerprint('admin', hashKey(config.adminToken!)) : fingerprint('site', who.site.read_key_hash),
    iat: now,
    exp: now + config.session.ttlMs,
  };
  const body = b64(JSON.stringify(payload));
  return { cookie: `${body}.${sign(config.session.secret, body)}`, expiresAt: payload.exp };
}

/** The session a cookie value stands for, or undefined when it is forged, expired or outdated. */
export function verifySession(value: string, config: Config, sites: SiteCache, now: number): Omit<DashboardSession, 'sameOrigin'> | undefined {
  const dot = value.indexOf('.');
  if (dot <= 0) return undefined;
  const body = value.slice(0, dot);
  const mac = Buffer.from(value.slice(dot + 1));
  const expected = Buffer.from(sign(config.session.secret, body));
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
  let p: Payload;
  try {
    p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
  } catch {
    return undefined;
  }
  if (p.v !== 1 || (p.r !== 'admin' && p.r !== 'site') || typeof p.exp !== 'number' || p.exp <= now) return undefined;
  if (p.f !== currentFingerprint(p.r, p.s, config.adminToken, sites)) return undefined;
  return { role: p.r, ...(p.r === 'site' ? { site_id: p.s } : {}), issued_at: p.iat, expires_at: p.exp };
}

export function cookieValue(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A same-origin request from the dashboard: it carries the custom header (cross-origin pages cannot
 * send it without a CORS preflight, which does not allow it), and its Origin, when the browser sent
 * one, is this server's (PUBLIC_URL or the Host the request came to).
 */
export function isSameOriginRequest(req: FastifyRequest, publicUrl: string | undefined): boolean {
  if (!req.headers[CSRF_HEADER]) return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (publicUrl && origin === publicUrl) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** onRequest hook: attaches the verified session of the cookie to API requests. */
export function sessionHook(config: Config, sites: SiteCache, now: () => number) {
  return async (req: FastifyRequest) => {
    const value = cookieValue(req, SESSION_COOKIE);
    if (!value) return;
    const session = verifySession(value, config, sites, now());
    if (session) req.dashboardSession = { ...session, sameOrigin: isSameOriginRequest(req, config.publicUrl) };
  };
}

function secure(req: FastifyRequest, config: Config): boolean {
  return config.session.secureCookie === 'auto' ? req.protocol === 'https' : config.session.secureCookie;
}

export function setSessionCookie(reply: FastifyReply, req: FastifyRequest, config: Config, value: string): void {
  const maxAge = Math.floor(config.session.ttlMs / 1000);
  reply.header(
    'set-cookie',
    `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure(req, config) ? '; Secure' : ''}`,
  );
}

export function clearSessionCookie(reply: FastifyReply, req: FastifyRequest, config: Config): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure(req, config) ? '; Secure' : ''}`);
}
