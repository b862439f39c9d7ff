// Who may open the queue board (/admin/queues): the admin only, by `Authorization: Bearer
// <ADMIN_TOKEN>` or by the dashboard's admin session cookie. A site's read key, its share token or a
// site session never opens it. Cookie-authenticated changes (retry, clean, remove, pause…) follow the
// dashboard's CSRF rule: the x-requested-with header and, when the browser sends one, this server's
// Origin (the board's page adds the header to its own requests, see page.ts).
import type { FastifyRequest } from 'fastify';
import { bearerToken, crossSiteRefused, isAdminToken, isSafeMethod } from '../auth.js';
import { ApiError } from '../errors.js';
import { CSRF_SCRIPT } from './page.js';

export const BOARD_PATH = '/admin/queues';

export type BoardAccess =
  | { allow: true }
  /** A person in a browser without an admin session: to the dashboard's log-in, then back. */
  | { allow: false; redirect: string }
  | { allow: false; error: ApiError };

/** A page load by a browser (not a script, an asset or the board's JSON API). */
export function isBrowserNavigation(req: FastifyRequest): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = req.url.split('?')[0]!;
  if (path.startsWith(`${BOARD_PATH}/api/`) || path.startsWith(`${BOARD_PATH}/static/`) || path === `${BOARD_PATH}/${CSRF_SCRIPT}`) return false;
  const accept = req.headers.accept ?? '';
  return req.headers['sec-fetch-mode'] === 'navigate' || accept.includes('text/html');
}

/** The dashboard's log-in page, which comes back to `url` (a path under /admin/queues) after an admin log-in. */
export function loginRedirect(url: string): string {
  return `/?next=${encodeURIComponent(url)}`;
}

export function boardAccess(req: FastifyRequest, adminToken: string | undefined, canRedirect: boolean): BoardAccess {
  if (!adminToken) {
    // No ADMIN_TOKEN means no admin: the board can empty and obliterate queues, so nobody opens it.
    return { allow: false, error: new ApiError(403, 'Forbidden', 'The queue board needs ADMIN_TOKEN: set it on the server, then log in as the admin') };
  }
  const token = bearerToken(req);
  if (token) {
    if (isAdminToken(token, adminToken)) return { allow: true };
    return { allow: false, error: new ApiError(403, 'Forbidden', 'The queue board needs the admin token; read keys and share links do not open it') };
  }
  const session = req.dashboardSession;
  if (session?.role === 'admin') {
    if (!isSafeMethod(req.method) && !session.sameOrigin) return { allow: false, error: crossSiteRefused() };
    return { allow: true };
  }
  if (canRedirect && isBrowserNavigation(req)) return { allow: false, redirect: loginRedirect(req.url) };
  if (session) return { allow: false, error: new ApiError(403, 'Forbidden', 'The queue board needs the admin; this session is a site read key') };
  return { allow: false, error: new ApiError(401, 'Unauthorized', 'Send Authorization: Bearer <ADMIN_TOKEN>, or log in on the dashboard as the admin') };
}
