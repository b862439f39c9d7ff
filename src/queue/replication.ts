// Redis Cluster replicates asynchronously: a master answers a write before its replicas have it,
// and a failover promotes a replica. So on a cluster a job counts as durably queued only once the
// replicas of its master confirmed it (WAIT), or when that master has no replica online that a
// failover could promote (then its own AOF holds the job).
import type { Cluster } from 'ioredis';

/** Most a single WAIT blocks the node connection it shares with the other writes of this process. */
const WAIT_MAX_MS = 1000;

export class NotReplicatedError extends Error {}

type PipelineResult = [Error | null, unknown][] | null;

function results(res: PipelineResult): unknown[] {
  if (!res) throw new Error('pipeline returned nothing');
  for (const [err] of res) if (err) throw err;
  return res.map(([, value]) => value);
}

/** Replicas the master reports as online (`slaveN:…,state=online,…` in INFO replication). */
export function onlineReplicas(info: string): number {
  return info.split('\n').filter((line) => /^slave\d+:.*state=online/.test(line.trim())).length;
}

/**
 * Waits until `want` replicas (fewer when fewer are online) of the master serving `routingKey`'s slot
 * have every write this process sent it. The commands go through a pipeline with a read of
 * `routingKey`, so they reach that master on the same connection as the job's write: WAIT counts the
 * writes of its own connection.
 */
export async function waitForReplicas(cluster: Cluster, routingKey: string, want: number, deadline: number): Promise<void> {
  if (want <= 0) return;
  const [, info] = results(await cluster.pipeline().exists(routingKey).info('replication').exec());
  const needed = Math.min(want, onlineReplicas(String(info)));
  if (needed === 0) return;
  const timeoutMs = Math.max(1, Math.min(deadline - Date.now(), WAIT_MAX_MS));
  const [, acked] = results(await cluster.pipeline().exists(routingKey).wait(needed, timeoutMs).exec());
  if (Number(acked) < needed) {
    throw new NotReplicatedError(`${acked} of ${needed} replicas confirmed the write within ${timeoutMs} ms`);
  }
}
