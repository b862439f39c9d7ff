// What the queue holds, for metrics and readiness: jobs per state and when the oldest waiting job
// was queued. Read from each queue's own backend by the API (which holds only a producer).
import type Database from 'better-sqlite3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from '../config.js';
import { openSqliteFile } from '../store/sql/sqlite.js';
import type { BullmqEventQueue } from './bullmq.js';
import { createSqsClient, queueDepth, redrivePolicy } from './sqs-client.js';

export interface QueueSnapshot {
  /** Jobs (SQS: messages) waiting to be taken, held by a worker, waiting for a retry, failed for good. */
  jobs: { waiting: number; active: number; delayed: number; failed: number };
  /**
   * Epoch ms at which the oldest job still waiting was queued; null when none waits; undefined when
   * the queue cannot tell (SQS reports no such figure through its API).
   */
  oldestWaitingSince: number | null | undefined;
}

export interface QueueInspector {
  snapshot(): Promise<QueueSnapshot>;
  close(): Promise<void>;
}

export function createQueueInspector(config: Config, producer: unknown, embeddedFile: string): QueueInspector {
  switch (config.queue.kind) {
    case 'bullmq':
      return bullmqInspector(producer as BullmqEventQueue);
    case 'embedded':
      return embeddedInspector(embeddedFile);
    case 'sqs':
      return sqsInspector(config);
  }
}

/** Through the producer's own fail-fast connection: while Redis is down this fails at once. */
function bullmqInspector(producer: BullmqEventQueue): QueueInspector {
  return {
    async snapshot() {
      const [c, oldest] = await Promise.all([
        producer.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'),
        // The wait list's tail: the job queued first among those waiting.
        producer.queue.getJobs(['wait'], 0, 0, true),
      ]);
      return {
        jobs: { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 },
        oldestWaitingSince: oldest[0]?.timestamp ?? null,
      };
    },
    async close() {},
  };
}

/** A read connection of its own to the queue file (WAL: never blocks the writers). */
function embeddedInspector(file: string): QueueInspector {
  let db: Database.Database | undefined;
  return {
    async snapshot() {
      db ??= openSqliteFile(file);
      const now = Date.now();
      const rows = db
        .prepare(
          `SELECT CASE WHEN state = 'waiting' AND run_at_ms > ? THEN 'delayed' ELSE state END AS s, COUNT(*) AS n,
                  MIN(created_at_ms) AS oldest
           FROM queue_jobs WHERE state IN ('waiting', 'active', 'failed') GROUP BY s`,
        )
        .all(now) as { s: string; n: number; oldest: number | null }[];
      const get = (s: string) => rows.find((r) => r.s === s);
      return {
        jobs: { waiting: get('waiting')?.n ?? 0, active: get('active')?.n ?? 0, delayed: get('delayed')?.n ?? 0, failed: get('failed')?.n ?? 0 },
        oldestWaitingSince: get('waiting')?.oldest ?? null,
      };
    },
    async close() {
      db?.close();
      db = undefined;
    },
  };
}

/**
 * SQS's approximate counts. Failed = the dead-letter queue's messages (SQS_DLQ_URL, or the queue's
 * redrive policy). Messages waiting for a retry are invisible, so they count as active.
 */
function sqsInspector(config: Config): QueueInspector {
  const cfg = config.sqs!;
  const client: SQSClient = createSqsClient(cfg, 0);
  let dlqUrl: Promise<string | undefined> | undefined;
  const deadLetter = () => {
    dlqUrl ??= cfg.dlqUrl ? Promise.resolve(cfg.dlqUrl) : redrivePolicy(client, cfg.queueUrl).then((p) => p?.dlqUrl);
    dlqUrl.catch(() => (dlqUrl = undefined));
    return dlqUrl;
  };
  return {
    async snapshot() {
      const [main, dlq] = await Promise.all([
        queueDepth(client, cfg.queueUrl),
        // Unknown (NaN), not 0, when the dead-letter queue cannot be read (no permission on it, say).
        deadLetter().then((url) => (url ? queueDepth(client, url) : undefined)).catch(() => null),
      ]);
      const failed = dlq === null ? NaN : dlq ? dlq.visible + dlq.notVisible : 0;
      return {
        jobs: { waiting: main.visible, active: main.notVisible, delayed: main.delayed, failed },
        oldestWaitingSince: undefined,
      };
    },
    async close() {
      client.destroy();
    },
  };
}
