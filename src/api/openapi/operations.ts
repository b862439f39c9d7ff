// OpenAPI schemas of the operational routes: health, the tracker script, this document, Swagger UI
// and the queue board. Routes registered by plugins of their own (Swagger UI, bull-board) or by
// other modules get their schema from ROUTE_SCHEMAS, by method and path (openapi/plugin.ts applies
// it when the route registers). /metrics and /api/ready are described here for the metrics and
// readiness routes: when they register without a schema of their own, they get these.
import type { FastifySchema } from 'fastify';
import { z } from 'zod';
import { anyOf, described, documented, errorBody, errorExamples, errorResponse, internalError, NO_CREDENTIAL } from './shared.js';

const check = z.object({ kind: z.string(), status: z.string().describe('`ok`, or `error: <message>`') });
const health = z.object({
  success: z.boolean(),
  data: z.object({ status: z.enum(['ok', 'degraded']), queue: check, store: check }),
});

export const healthDocs = documented({
  summary: 'Health: the queue and the store answer',
  description: '200 when both the queue and the store respond within 2 s, 503 otherwise. No credential; never rate-limited.',
  tags: ['Operations'],
  security: NO_CREDENTIAL,
  response: {
    200: described(health, 'Healthy', {
      ok: { value: { success: true, data: { status: 'ok', queue: { kind: 'embedded', status: 'ok' }, store: { kind: 'sqlite', status: 'ok' } } } },
    }),
    503: described(health, 'Degraded: the failing part says why', {
      redisDown: {
        summary: 'Redis is down',
        value: {
          success: false,
          data: { status: 'degraded', queue: { kind: 'bullmq', status: "error: Stream isn't writeable and enableOfflineQueue options is false" }, store: { kind: 'sqlite', status: 'ok' } },
        },
      },
    }),
  },
});

const notFoundJson = (message: string) => ({
  description: message,
  content: { 'application/json': { schema: errorResponse(message, { notFound: errorExamples.notFound(message) }) } },
});

export const trackerDocs = documented({
  summary: 'The tracker script',
  description: 'The script for your pages (≤ 1 KB gzipped): `<script defer src="ORIGIN/script.js" data-site="…" data-key="…"></script>`. Also served at `TRACKER_SCRIPT_PATH` when set. Cached for a day, revalidated by `ETag`; gzipped when accepted.',
  tags: ['Tracker'],
  security: NO_CREDENTIAL,
  response: {
    200: { description: 'The script', content: { 'application/javascript': { schema: z.string() } } },
    304: z.null().describe('Not modified (`If-None-Match` matched the `ETag`)'),
    404: notFoundJson('The tracker script is not built: run npm run build'),
  },
});

export const openapiDocs = documented({
  summary: 'This OpenAPI 3 document',
  description: 'Generated from the route schemas (zod, through fastify-type-provider-zod).',
  tags: ['Operations'],
  security: NO_CREDENTIAL,
  response: {
    200: { description: 'The document', content: { 'application/json': { schema: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) }) } } },
  },
});

const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });

const docsPage: FastifySchema = {
  summary: 'Swagger UI for this document',
  description: 'Served from the @fastify/swagger-ui package: nothing is loaded from another host.',
  tags: ['Operations'],
  security: NO_CREDENTIAL,
  response: { 200: html('The page') },
};

const boardPage: FastifySchema = {
  summary: 'The BullMQ Board (queue monitoring)',
  description:
    "bull-board's UI for the events queue and the maintenance queue, with the BullMQ queue only (`REDIS_URL`, `REDIS_HOST` or `REDIS_CLUSTER_NODES`). Admin only: `Authorization: Bearer <ADMIN_TOKEN>`, or the dashboard's admin session; a read key or share token is refused. A browser without an admin session is sent to the dashboard's log-in, which comes back here. Its own JSON API and assets (under `/admin/queues/api/` and `/admin/queues/static/`) are bull-board's, not documented here; cookie-authenticated changes through it need `x-requested-with` (the board's page adds it) and, when sent, this server's `Origin`.",
  tags: ['Operations'],
  security: anyOf('bearer', 'session'),
  response: {
    200: html('The board'),
    302: z.null().describe("A browser without an admin session: to the dashboard's log-in (`/?next=/admin/queues`)"),
    401: {
      description: 'No credential (not a browser)',
      content: { 'application/json': { schema: errorResponse('No credential', { none: errorExamples.unauthorized('Send Authorization: Bearer <ADMIN_TOKEN>, or log in on the dashboard as the admin') }) } },
    },
    403: {
      description: 'Not the admin, a cross-site change, or no ADMIN_TOKEN on the server',
      content: {
        'application/json': {
          schema: errorResponse('Not the admin', {
            readKey: errorExamples.forbidden('The queue board needs the admin token; read keys and share links do not open it'),
            noAdmin: errorExamples.forbidden('The queue board needs ADMIN_TOKEN: set it on the server, then log in as the admin'),
          }),
        },
      },
    },
    404: notFoundJson('The queue board needs the BullMQ queue (REDIS_URL, REDIS_HOST or REDIS_CLUSTER_NODES); this server uses the embedded queue'),
    500: { description: 'Anything unexpected', content: { 'application/json': { schema: internalError } } },
  },
};

const metricsPage: FastifySchema = {
  summary: 'Prometheus metrics',
  description: 'Prometheus text format. Protected by the admin token unless `METRICS_PUBLIC=true`.',
  tags: ['Operations'],
  security: [...anyOf('bearer'), {}],
  response: {
    200: { description: 'The metrics', content: { 'text/plain': { schema: z.string() } } },
    401: { description: 'No credential', content: { 'application/json': { schema: errorResponse('No credential', { none: errorExamples.unauthorized('Send Authorization: Bearer <ADMIN_TOKEN>') }) } } },
    403: { description: 'Not the admin token', content: { 'application/json': { schema: errorResponse('Not the admin token', { wrong: errorExamples.forbidden('Invalid admin token') }) } } },
  },
};

const readyCheck = z.looseObject({
  ok: z.boolean(),
  message: z.string().optional().describe('Why the check failed, as one sentence'),
});
const checks = z.object({
  queue: readyCheck.describe('The queue answers a ping (`kind`: embedded, bullmq or sqs)'),
  store: readyCheck.describe('The store answers a ping (`kind`: sqlite, postgres or mongodb)'),
  workers: readyCheck.describe('A worker heartbeat within WORKER_HEARTBEAT_TIMEOUT_SECONDS (`seen`, `last_seen_seconds_ago`, `last_worker`)'),
  queue_age: readyCheck.describe('The oldest waiting job is younger than READY_MAX_QUEUE_AGE_SECONDS (`oldest_waiting_seconds`; null on SQS)'),
});
const readyChecks = {
  queue: { ok: true, kind: 'bullmq' },
  store: { ok: true, kind: 'postgres' },
  workers: { ok: true, seen: 2, timeout_seconds: 30, last_seen_seconds_ago: 1.6, last_worker: 'worker-1/4356-1' },
  queue_age: { ok: true, oldest_waiting_seconds: 0, max_seconds: 300, waiting: 0, delayed: 0 },
};
const noWorker = 'No worker seen in the last 30 s (WORKER_HEARTBEAT_TIMEOUT_SECONDS): events are queued but not counted until one runs.';

const readyPage: FastifySchema = {
  summary: 'Readiness: queue and store reachable, a worker seen recently, the backlog young',
  description: '200 when ready; 503 with the failing reasons otherwise. Each check answers within HEALTH_CHECK_TIMEOUT_MS. `/api/health` is liveness.',
  tags: ['Operations'],
  security: NO_CREDENTIAL,
  response: {
    200: {
      description: 'Ready',
      content: {
        'application/json': {
          schema: described(z.object({ success: z.literal(true), data: z.object({ status: z.literal('ready'), checks }) }), 'Every check passed', {
            ready: { value: { success: true, data: { status: 'ready', checks: readyChecks } } },
          }),
        },
      },
    },
    503: {
      description: 'Not ready, with the reasons',
      content: {
        'application/json': {
          schema: described(errorBody.extend({ data: z.object({ status: z.literal('not ready'), checks }) }), 'One sentence per failing check in `message` and `details`', {
            noWorker: {
              summary: 'Redis mode, no worker started',
              value: {
                success: false,
                error: 'Service unavailable',
                message: `Not ready: ${noWorker}`,
                details: [{ field: 'workers', message: noWorker }],
                data: { status: 'not ready', checks: { ...readyChecks, workers: { ok: false, seen: 0, timeout_seconds: 30, message: noWorker } } },
              },
            },
          }),
        },
      },
    },
  },
};

/** Schemas for routes that other plugins or modules register (key: `METHOD path`). */
export const ROUTE_SCHEMAS: Record<string, FastifySchema> = {
  'GET /api/docs': docsPage,
  'GET /admin/queues': boardPage,
  'GET /metrics': metricsPage,
  'GET /api/ready': readyPage,
};
