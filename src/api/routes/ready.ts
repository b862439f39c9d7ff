// GET /api/ready — readiness: 200 when events sent now will be counted soon (queue and store reachable,
// a worker seen recently, no old backlog), 503 with the failing checks otherwise. /api/health stays
// liveness: the process answers.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

export function readyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/ready', async (_req, reply) => {
    const { ready, checks } = await ctx.readiness.check();
    if (ready) return reply.code(200).send({ success: true, data: { status: 'ready', checks } });
    const failing = Object.entries(checks).filter(([, c]) => !c.ok);
    return reply.code(503).send({
      success: false,
      error: 'Service unavailable',
      message: `Not ready: ${failing.map(([, c]) => c.message).join(' ')}`,
      details: failing.map(([field, c]) => ({ field, message: c.message ?? `${field} failed` })),
      data: { status: 'not ready', checks },
    });
  });
}
