// A queue is bound to the store it feeds. The API records its store's id with the queue (BullMQ: a
// Redis key under the queue's prefix; embedded: the queue file), and a worker whose store has
// another id refuses to take the jobs: they are for sites of another database, and applying them
// elsewhere would either fail them or count them where nobody reads.
import { Queue } from 'bullmq';
import type Database from 'better-sqlite3';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { StartupError } from '../startup-error.js';
import { openSqliteFile } from '../store/sql/sqlite.js';
import type { QueuedEvent } from '../core/event.js';
import { QueueUnavailableError, type EventQueue } from './port.js';
import { createRedis, describeRedis, type RedisConfig } from './redis.js';
import { ListQueueTagsCommand, TagQueueCommand } from '@aws-sdk/client-sqs';
import type { SqsConfig } from '../config.js';
import { createSqsClient, queueDepth } from './sqs-client.js';

/** A store as the binding names it: its id, and where it is, for people reading the messages. */
export interface StoreIdentity {
  id: string;
  description: string;
}

export interface QueueBinding {
  /** `queue "analytics_events" on Redis redis://…`, for messages. */
  readonly description: string;
  read(): Promise<StoreIdentity | undefined>;
  /** Binds an unbound queue to `store`; returns the binding in force afterwards. */
  bindIfUnbound(store: StoreIdentity): Promise<StoreIdentity>;
  /** Moves the binding from `previousId` to `store`, unless someone changed it meanwhile. */
  replace(previousId: string, store: StoreIdentity): Promise<boolean>;
  /** Jobs the queue still holds for its store: waiting, delayed, active or failed. */
  pendingJobs(): Promise<number>;
  close(): Promise<void>;
}

function parse(value: string | null | undefined): StoreIdentity | undefined {
  if (!value) return undefined;
  try {
    const v = JSON.parse(value) as Partial<StoreIdentity>;
    if (typeof v.id === 'string') return { id: v.id, description: typeof v.description === 'string' ? v.description : 'a store' };
  } catch {
    // not ours: treat as an id alone
  }
  return { id: value, description: 'a store' };
}

const CAS = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2]) return 1 else return 0 end`;

export function bullmqBinding(redisConfig: RedisConfig, q: Pick<Config['queue'], 'name' | 'prefix'>): QueueBinding {
  const redis = createRedis(redisConfig, { connectionName: `${q.name}:binding`, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  redis.on('error', () => {}); // surfaced by the calls
  const key = `${q.prefix}:${q.name}:store-binding`;
  let queue: Queue | undefined;
  const where = describeRedis(redisConfig);
  return {
    description: `queue "${q.name}" on Redis ${where} (prefix ${q.prefix})`,
    async read() {
      return parse(await redis.get(key));
    },
    async bindIfUnbound(store) {
      await redis.set(key, JSON.stringify(store), 'NX');
      return parse(await redis.get(key))!;
    },
    async replace(previousId, store) {
      const current = await redis.get(key);
      if (parse(current)?.id !== previousId) return false;
      return (await redis.eval(CAS, 1, key, current!, JSON.stringify(store))) === 1;
    },
    async pendingJobs() {
      if (!queue) {
        queue = new Queue(q.name, { connection: redis, prefix: q.prefix });
        queue.on('error', () => {});
      }
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children');
      return Object.values(c).reduce((n, v) => n + (v ?? 0), 0);
    },
    async close() {
      await queue?.close().catch(() => {});
      redis.disconnect();
    },
  };
}

export function embeddedBinding(file: string): QueueBinding {
  let db: Database.Database | undefined;
  const open = () => {
    db ??= openSqliteFile(file);
    db.exec(`CREATE TABLE IF NOT EXISTS queue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    return db;
  };
  const get = () => (open().prepare(`SELECT value FROM queue_meta WHERE key = 'store_binding'`).get() as { value: string } | undefined)?.value;
  return {
    description: `embedded queue in ${file}`,
    async read() {
      return parse(get());
    },
    async bindIfUnbound(store) {
      open().prepare(`INSERT INTO queue_meta (key, value) VALUES ('store_binding', ?) ON CONFLICT (key) DO NOTHING`).run(JSON.stringify(store));
      return parse(get())!;
    },
    async replace(previousId, store) {
      const d = open();
      return d
        .transaction(() => {
          if (parse(get())?.id !== previousId) return false;
          d.prepare(`UPDATE queue_meta SET value = ? WHERE key = 'store_binding'`).run(JSON.stringify(store));
          return true;
        })
        .immediate();
    },
    async pendingJobs() {
      const hasJobs = open().prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'queue_jobs'`).get();
      if (!hasJobs) return 0;
      return (open().prepare(`SELECT COUNT(*) AS n FROM queue_jobs WHERE state IN ('waiting', 'active', 'failed')`).get() as { n: number }).n;
    },
    async close() {
      db?.close();
      db = undefined;
    },
  };
}

/**
 * SQS keeps no key-value data, but a queue has tags (up to 256 characters a value): the binding
 * is the tag `store-binding` of the queue, holding the store's id and a shortened description.
 * Tagging is not atomic: two APIs of different stores starting at the same instant on an unbound
 * queue could both believe they bound it; the workers' check before every group still catches it.
 */
export function sqsBinding(cfg: SqsConfig): QueueBinding {
  const client = createSqsClient(cfg, 0);
  const TAG = 'store-binding';
  const read = async () => {
    const res = await client.send(new ListQueueTagsCommand({ QueueUrl: cfg.queueUrl }));
    return parse(res.Tags?.[TAG]);
  };
  const write = (store: StoreIdentity) => {
    let value = JSON.stringify(store);
    if (value.length > 256) value = JSON.stringify({ id: store.id, description: store.description.slice(0, Math.max(0, 200 - store.id.length)) });
    return client.send(new TagQueueCommand({ QueueUrl: cfg.queueUrl, Tags: { [TAG]: value } }));
  };
  return {
    description: `SQS queue ${cfg.queueUrl}`,
    read,
    async bindIfUnbound(store) {
      const bound = await read();
      if (bound) return bound;
      await write(store);
      return (await read())!;
    },
    async replace(previousId, store) {
      if ((await read())?.id !== previousId) return false;
      await write(store);
      return true;
    },
    async pendingJobs() {
      const d = await queueDepth(client, cfg.queueUrl);
      return d.visible + d.notVisible + d.delayed;
    },
    async close() {
      client.destroy();
    },
  };
}

export function openBinding(config: Pick<Config, 'queue' | 'redis' | 'sqs'>, embeddedFile: string): QueueBinding {
  switch (config.queue.kind) {
    case 'bullmq':
      return bullmqBinding(config.redis!, config.queue);
    case 'sqs':
      return sqsBinding(config.sqs!);
    case 'embedded':
      return embeddedBinding(embeddedFile);
  }
}

/**
 * The API's side. An unbound queue is bound to this API's store. A queue bound to another store
 * is taken over only while it holds no jobs (nothing of the other store would be lost; a warning
 * says so); otherwise the API refuses to start, because workers of either store would take jobs
 * meant for the other.
 */
export async function bindQueueToStore(binding: QueueBinding, store: StoreIdentity, logger: Logger): Promise<void> {
  const bound = await binding.bindIfUnbound(store);
  if (bound.id === store.id) return;
  const pending = await binding.pendingJobs();
  if (pending === 0 && (await binding.replace(bound.id, store))) {
    logger.warn(
      `The ${binding.description} was bound to ${bound.description} (store id ${bound.id}), not to this API's ${store.description} ` +
        `(store id ${store.id}); it held no jobs, so it is now bound to this API's store. Workers of the other store will refuse it.`,
    );
    return;
  }
  throw new StartupError(
    `The ${binding.description} is bound to ${bound.description} (store id ${bound.id}) and holds ${pending} job${pending === 1 ? '' : 's'} for it, ` +
      `but this API's store is ${store.description} (store id ${store.id}). Start this API with the same store settings ` +
      `(DATABASE_URL / MONGODB_URI / DATA_DIR) as that store's workers, or give this store a queue of its own (QUEUE_NAME). ` +
      `The queue can be bound to another store once it is empty.`,
  );
}

/** A worker whose store is not the one its queue feeds. */
export class StoreMismatchError extends StartupError {}

export function storeMismatch(binding: QueueBinding, bound: StoreIdentity, store: StoreIdentity): StoreMismatchError {
  return new StoreMismatchError(
    `This worker's store is not the one its queue feeds: the ${binding.description} is bound to ${bound.description} (store id ${bound.id}), ` +
      `and this worker has ${store.description} (store id ${store.id}). It takes no jobs. Start the worker with the same DATABASE_URL / ` +
      `MONGODB_URI / DATA_DIR as the API (each process reads .env from its working directory), or with the QUEUE_NAME of its own store's API.`,
  );
}

/**
 * The API's queue until its binding is confirmed (BullMQ, when Redis was down at start): events are
 * refused with 503, since workers of another store might take them.
 */
export class BindingGate implements EventQueue {
  readonly kind: EventQueue['kind'];
  private bound = false;

  constructor(private inner: EventQueue) {
    this.kind = inner.kind;
  }

  open(): void {
    this.bound = true;
  }

  async enqueue(events: QueuedEvent[]): Promise<void> {
    if (!this.bound) throw new QueueUnavailableError(new Error('the queue is not yet bound to this API\'s store (its Redis has not answered yet)'));
    return this.inner.enqueue(events);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
