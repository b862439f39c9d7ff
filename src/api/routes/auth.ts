// Dashboard log-in: POST /api/auth/login, GET /api/auth/session, POST /api/auth/logout.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hashKey } from '../../core/site.js';
import { isAdminToken } from '../auth.js';
import type { ApiContext } from '../context.js';
import { ApiError, fromZod } from '../errors.js';
import { loginDocs, logoutDocs, sessionDocs } from '../openapi/sites.js';
import { clearSessionCookie, isSameOriginRequest, issueSession, setSessionCookie } from '../session.js';

const loginSchema = z.object(
  {
    token: z
      .string({ error: (i) => (i.input === undefined ? 'token is required' : 'token must be a string') })
      .trim()
      .min(1, { error: 'token must not be empty' })
      .max(512, { error: 'token must be at most 512 characters' }),
  },
  { error: 'Request body must be a JSON object' },
);

export function authRoutes(app: FastifyInstance, ctx: ApiContext, rateLimit: object | undefined): void {
  const { config } = ctx;

  app.post('/api/auth/login', { config: { rateLimit }, ...loginDocs(loginSchema) }, async (req, reply) => {
    // A login is a change of state too: a cross-site page must not log a visitor into its account.
    if (!isSameOriginRequest(req, config.publicUrl)) {
      throw new ApiError(403, 'Forbidden', 'Log in from the dashboard itself (x-requested-with header, same Origin)');
    }
    const parsed = loginSchema.safeParse(req.body);
    if (!parsed.success) throw fromZod(parsed.error);
    const { token } = parsed.data;
    const now = ctx.now();
    let issued;
    if (isAdminToken(token, config.adminToken)) {
      issued = { ...issueSession(config, { role: 'admin' }, now), role: 'admin' as const };
    } else {
      const hash = hashKey(token);
      const site = ctx.sites.byReadKeyHash(hash);
      if (!site) {
        if (ctx.sites.byApiKeyHash(hash)) throw new ApiError(403, 'Forbidden', 'This is the ingestion API key; log in with the read key or the admin token');
        if (ctx.sites.byShareTokenHash(hash)) throw new ApiError(403, 'Forbidden', 'A share token opens /share/<token>; log in with a read key or the admin token');
        throw new ApiError(401, 'Unauthorized', 'Unknown token: use the admin token or a site read key');
      }
      issued = { ...issueSession(config, { role: 'site', site }, now), role: 'site' as const, site_id: site.site_id };
    }
    setSessionCookie(reply, req, config, issued.cookie);
    return reply.send({
      success: true,
      data: { role: issued.role, ...('site_id' in issued ? { site_id: issued.site_id } : {}), expires_at: new Date(issued.expiresAt).toISOString() },
    });
  });

  app.get('/api/auth/session', sessionDocs, async (req, reply) => {
    const s = req.dashboardSession;
    reply.header('cache-control', 'no-store');
    const server = { admin_token_set: config.adminToken !== undefined };
    if (!s) return reply.send({ success: true, data: { authenticated: false, ...server } });
    return reply.send({
      success: true,
      data: {
        authenticated: true,
        role: s.role,
        ...(s.site_id ? { site_id: s.site_id } : {}),
        expires_at: new Date(s.expires_at).toISOString(),
        ...server,
      },
    });
  });

  app.post('/api/auth/logout', logoutDocs, async (req, reply) => {
    if (!isSameOriginRequest(req, config.publicUrl)) {
      throw new ApiError(403, 'Forbidden', 'Log out from the dashboard itself (x-requested-with header, same Origin)');
    }
    clearSessionCookie(reply, req, config);
    return reply.send({ success: true });
  });
}
