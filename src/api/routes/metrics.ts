// GET /metrics — Prometheus metrics of this process (in embedded mode with its worker thread's merged
// in). The admin token (Bearer, or an admin session) unless METRICS_PUBLIC=true or ADMIN_TOKEN is
// unset (local use, as site creation).
import type { FastifyInstance } from 'fastify';
import { METRICS_CONTENT_TYPE, mergedMetricsText } from '../../metrics/registry.js';
import { requireAdmin } from '../auth.js';
import type { ApiContext } from '../context.js';

export function metricsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/metrics', async (req, reply) => {
    if (!ctx.config.metrics.public) requireAdmin(req, ctx.config.adminToken);
    const registry = ctx.metrics.registry;
    let text: string;
    if (ctx.metricsSources.length === 0) {
      text = await registry.metrics();
    } else {
      const parts = await Promise.all([registry.getMetricsAsJSON(), ...ctx.metricsSources.map((source) => source())]);
      text = await mergedMetricsText(parts);
    }
    return reply.type(METRICS_CONTENT_TYPE).header('cache-control', 'no-store').send(text);
  });
}
