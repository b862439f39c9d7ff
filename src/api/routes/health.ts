// GET /api/health — 200 when the queue and the store answer, 503 otherwise (liveness, for load
// balancers). Readiness, with the workers and the backlog, is GET /api/ready.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { healthDocs } from '../openapi/operations.js';

export function healthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/health', healthDocs, async (_req, reply) => {
    const check = async (fn: () => Promise<void>) => {
      try {
        await withTimeout(fn(), ctx.config.ready.checkTimeoutMs);
        return 'ok';
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    };
    const [queue, store] = await Promise.all([check(() => ctx.queue.ping()), check(() => ctx.store.ping())]);
    const healthy = queue === 'ok' && store === 'ok';
    return reply.code(healthy ? 200 : 503).send({
      success: healthy,
      data: { status: healthy ? 'ok' : 'degraded', queue: { kind: ctx.queue.kind, status: queue }, store: { kind: ctx.store.kind, status: store } },
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
