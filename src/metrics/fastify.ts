// Fastify hooks for the API's metrics. Request durations are recorded per route pattern: an onRoute
// hook gives every route (those of plugins too) its own onResponse hook that knows the route's
// pattern, so no request ever builds a label from its raw URL.
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler, RouteOptions } from 'fastify';
import type { ApiMetrics } from './api.js';
import type { HistogramSeries, RequestHistogram } from './request-histogram.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by an ingestion handler that counted its refused events itself (per event, by status). */
    ingestCounted: boolean;
  }
}

/** Call before any route is registered: routes added earlier are not timed. */
export function registerRequestMetrics(app: FastifyInstance, metrics: ApiMetrics): void {
  app.decorateRequest('ingestCounted', false);
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const hook = durationHook(metrics.httpDuration, methods.join(','), route.url ?? '');
    const existing = route.onResponse;
    route.onResponse = existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook];
  });
}

function durationHook(histogram: RequestHistogram<'method' | 'route' | 'status_code'>, method: string, route: string): onResponseHookHandler {
  // One series per status code this route answers (a handful), bound once.
  const byStatus = new Map<number, HistogramSeries>();
  return (_req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const status = reply.statusCode;
    let child = byStatus.get(status);
    if (!child) {
      child = histogram.child({ method, route, status_code: String(status) });
      byStatus.set(status, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  };
}

/**
 * An ingestion route's refusals, per event: `/api/event` carries one event; a batch counts the events
 * of its body when it was read (a request refused before, e.g. 413 or 429, counts as one). A batch
 * handler that counted its refusals itself sets `request.ingestCounted`.
 */
export function ingestRejectionHook(metrics: ApiMetrics, route: 'event' | 'batch'): onResponseHookHandler {
  return (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (reply.statusCode >= 400 && !req.ingestCounted) metrics.rejectEvents(reply.statusCode, route === 'batch' ? eventsInBatch(req.body) : 1);
    done();
  };
}

function eventsInBatch(body: unknown): number {
  const events = (body as { events?: unknown } | null | undefined)?.events;
  return Array.isArray(events) && events.length > 0 ? events.length : 1;
}
