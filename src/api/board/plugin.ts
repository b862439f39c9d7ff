// The spec's "BullMQ Board": @bull-board at /admin/queues, showing the events queue and the daily
// maintenance queue, for the admin only (access.ts). Assets come from the @bull-board/ui package;
// nothing is loaded from another host (page.ts). Without BullMQ (embedded or SQS queue) the path
// answers 404 with a message that says why.
import fs from 'node:fs';
import path from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { createFailFastRedis } from '../../queue/redis.js';
import { maintenanceQueueName } from '../../worker/schedule.js';
import { ApiError, errorBody } from '../errors.js';
import { BOARD_PATH, boardAccess } from './access.js';
import { CSRF_SCRIPT, CSRF_SCRIPT_SOURCE, boardCsp, rewriteBoardHtml } from './page.js';

export interface BoardOptions {
  /** The built dashboard (dist/web): a browser without a session is sent to its log-in page. */
  dashboardDir?: string;
}

function send(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply.code(err.statusCode).headers({ ...err.headers, 'cache-control': 'no-store' }).send(errorBody(err));
}

export async function registerQueueBoard(app: FastifyInstance, config: Config, opts: BoardOptions = {}): Promise<void> {
  if (config.queue.kind !== 'bullmq') {
    const why = new ApiError(
      404,
      'Not found',
      `The queue board needs the BullMQ queue (REDIS_URL, REDIS_HOST or REDIS_CLUSTER_NODES); this server uses the ${config.queue.kind === 'sqs' ? 'SQS' : 'embedded'} queue`,
    );
    const notHere = async (_req: FastifyRequest, reply: FastifyReply) => send(reply, why);
    app.get(BOARD_PATH, notHere); // documented in openapi/operations.ts
    app.all(`${BOARD_PATH}/*`, { schema: { hide: true } }, notHere);
    return;
  }

  // Its own connection, failing fast like the producer's: a board page never holds requests while Redis is down.
  const redis = createFailFastRedis(config.redis!, `${config.queue.name}:board`);
  const queues = [config.queue.name, maintenanceQueueName(config.queue)].map((name) => {
    const queue = new Queue(name, { connection: redis, prefix: config.queue.prefix });
    queue.on('error', () => {}); // the board shows the failing request; the connection reconnects by itself
    return queue;
  });
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: [
      new BullMQAdapter(queues[0]!, { description: 'Ingestion: each job holds the events of one API batch' }),
      new BullMQAdapter(queues[1]!, { description: `Daily maintenance (retention, salts, placeholders) on CRON_SCHEDULE, UTC` }),
    ],
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Analytics queues',
        hideDocsLink: true,
        miscLinks: [{ text: 'Dashboard', url: '/' }],
      },
    },
  });

  const loginPage = opts.dashboardDir !== undefined && fs.existsSync(path.join(opts.dashboardDir, 'index.html'));
  await app.register(async (board) => {
    board.addHook('onRequest', async (req, reply) => {
      const access = boardAccess(req, config.adminToken, loginPage);
      if (access.allow) return;
      if ('redirect' in access) return reply.header('cache-control', 'no-store').redirect(access.redirect, 302);
      return send(reply, access.error);
    });
    board.addHook('onSend', async (_req, reply, payload) => {
      reply.header('x-content-type-options', 'nosniff').header('x-frame-options', 'DENY').header('referrer-policy', 'same-origin');
      const type = String(reply.getHeader('content-type') ?? '');
      if (!type.startsWith('text/html')) return payload;
      const html = typeof payload === 'string' ? rewriteBoardHtml(payload) : undefined;
      reply.header('content-security-policy', boardCsp(html)).header('cache-control', 'no-store');
      return html ?? payload;
    });
    board.get(`${BOARD_PATH}/${CSRF_SCRIPT}`, async (_req, reply) =>
      reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-cache').send(CSRF_SCRIPT_SOURCE),
    );
    await board.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
  });

  app.addHook('onClose', async () => {
    await Promise.all(queues.map((q) => q.close().catch(() => {})));
    redis.disconnect();
  });
}
