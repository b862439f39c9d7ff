// Worker heartbeats, kept in the queue's own backend so that "a worker is alive" means "alive for this
// queue": BullMQ — a Redis key per worker with a TTL, plus an index of last beats, all under the
// queue's prefix (one hash slot on a cluster); embedded — a row per worker in the queue's SQLite file;
// SQS — SQS has nowhere to keep them, so the store does (its worker_heartbeats table / collection),
// which every worker has, rather than Redis, which an SQS deployment may not have.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { isMainThread, threadId } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { Config } from '../config.js';
import type { HeartbeatStore, WorkerHeartbeat } from '../store/port.js';
import { openSqliteFile } from '../store/sql/sqlite.js';
import { createRedis, type RedisClient, type RedisConfig } from './redis.js';

export type { WorkerHeartbeat };

export interface Heartbeats {
  /** Records (or refreshes) a worker's beat; `ttlMs`: how long it counts without the next one. */
  beat(hb: WorkerHeartbeat, ttlMs: number): Promise<void>;
  /** Heartbeats seen at or after `since` (epoch ms), newest first. */
  seenSince(since: number): Promise<WorkerHeartbeat[]>;
  /** A worker that stops cleanly says so at once. */
  remove(workerId: string): Promise<void>;
  close(): Promise<void>;
}

/** This worker's identity: host and pid (a thread adds its id) and a random part, unique per start. */
export function workerIdentity(startedAt = Date.now()): Omit<WorkerHeartbeat, 'seen_at'> {
  const pid = isMainThread ? String(process.pid) : `${process.pid}-${threadId}`;
  return { worker_id: `${os.hostname()}/${pid}/${randomBytes(4).toString('hex')}`, host: os.hostname(), pid, started_at: startedAt };
}

/** Beats older than this many timeouts are pruned: recent enough to say when the last worker was seen. */
const HISTORY_TIMEOUTS = 20;

export function openHeartbeats(config: Pick<Config, 'queue' | 'redis'>, embeddedFile: string, store: HeartbeatStore): Heartbeats {
  switch (config.queue.kind) {
    case 'bullmq':
      return redisHeartbeats(config.redis!, config.queue);
    case 'embedded':
      return sqliteHeartbeats(embeddedFile);
    case 'sqs':
      return storeHeartbeats(store);
  }
}

// KEYS[1] the worker's key, KEYS[2] the index; ARGV: value, ttl ms, worker id, seen_at ms, prune-before ms.
const BEAT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[2] * ${HISTORY_TIMEOUTS})
return 1`;

export function redisHeartbeats(redisConfig: RedisConfig, q: Pick<Config['queue'], 'name' | 'prefix'>, client?: RedisClient): Heartbeats {
  // Like the binding's connection: commands wait for a (re)connection briefly, then fail.
  const redis = client ?? createRedis(redisConfig, { connectionName: `${q.name}:heartbeat`, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  if (!client) redis.on('error', () => {}); // surfaced by the calls
  const base = `${q.prefix}:${q.name}:workers`;
  const keyOf = (id: string) => `${base}:${id}`;
  return {
    async beat(hb, ttlMs) {
      const prune = hb.seen_at - ttlMs * HISTORY_TIMEOUTS;
      await redis.eval(BEAT, 2, keyOf(hb.worker_id), base, JSON.stringify(hb), String(Math.max(1, Math.round(ttlMs))), hb.worker_id, String(hb.seen_at), String(prune));
    },
    async seenSince(since) {
      const ids = await redis.zrevrangebyscore(base, '+inf', String(since), 'WITHSCORES');
      if (ids.length === 0) return [];
      const pairs: [string, number][] = [];
      for (let i = 0; i < ids.length; i += 2) pairs.push([ids[i]!, Number(ids[i + 1])]);
      // The details live in each worker's key; a key already expired still has its index entry.
      const values = await redis.mget(...pairs.map(([id]) => keyOf(id)));
      return pairs.map(([id, seen], i) => ({ ...parseDetails(values[i], id), seen_at: seen }));
    },
    async remove(workerId) {
      await redis.multi().del(keyOf(workerId)).zrem(base, workerId).exec();
    },
    async close() {
      if (!client) redis.disconnect();
    },
  };
}

function parseDetails(value: string | null | undefined, id: string): Omit<WorkerHeartbeat, 'seen_at'> {
  try {
    const v = JSON.parse(value ?? '') as WorkerHeartbeat;
    return { worker_id: id, host: String(v.host), pid: String(v.pid), started_at: Number(v.started_at) };
  } catch {
    const [host = '', pid = ''] = id.split('/');
    return { worker_id: id, host, pid, started_at: 0 };
  }
}

export function sqliteHeartbeats(file: string): Heartbeats {
  let db: Database.Database | undefined;
  const open = () => {
    if (!db) {
      db = openSqliteFile(file);
      db.exec(`CREATE TABLE IF NOT EXISTS queue_workers (
        worker_id TEXT PRIMARY KEY, host TEXT NOT NULL, pid TEXT NOT NULL, started_at_ms INTEGER NOT NULL, seen_at_ms INTEGER NOT NULL)`);
    }
    return db;
  };
  return {
    async beat(hb, ttlMs) {
      const d = open();
      d.transaction(() => {
        d.prepare(
          `INSERT INTO queue_workers (worker_id, host, pid, started_at_ms, seen_at_ms) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (worker_id) DO UPDATE SET seen_at_ms = excluded.seen_at_ms`,
        ).run(hb.worker_id, hb.host, hb.pid, hb.started_at, hb.seen_at);
        d.prepare(`DELETE FROM queue_workers WHERE seen_at_ms < ?`).run(hb.seen_at - ttlMs * HISTORY_TIMEOUTS);
      }).immediate();
    },
    async seenSince(since) {
      const rows = open()
        .prepare(`SELECT worker_id, host, pid, started_at_ms, seen_at_ms FROM queue_workers WHERE seen_at_ms >= ? ORDER BY seen_at_ms DESC`)
        .all(since) as { worker_id: string; host: string; pid: string; started_at_ms: number; seen_at_ms: number }[];
      return rows.map((r) => ({ worker_id: r.worker_id, host: r.host, pid: r.pid, started_at: r.started_at_ms, seen_at: r.seen_at_ms }));
    },
    async remove(workerId) {
      open().prepare(`DELETE FROM queue_workers WHERE worker_id = ?`).run(workerId);
    },
    async close() {
      db?.close();
      db = undefined;
    },
  };
}

export function storeHeartbeats(store: HeartbeatStore): Heartbeats {
  return {
    beat: (hb, ttlMs) => store.recordHeartbeat(hb, hb.seen_at - ttlMs * HISTORY_TIMEOUTS),
    seenSince: (since) => store.listHeartbeats(since),
    remove: (workerId) => store.deleteHeartbeat(workerId),
    async close() {},
  };
}
