// A worker's heartbeat: written to the queue's backend every WORKER_HEARTBEAT_TIMEOUT_SECONDS / 3
// (at most 5 s), so the API's readiness and warning, and the Docker health check, can tell that a
// worker runs. A worker that stops cleanly removes its heartbeat; one killed stops beating and is
// gone once the timeout passes.
import type { HeartbeatConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { Heartbeats, WorkerHeartbeat } from '../queue/heartbeat.js';

export interface HeartbeatLoop {
  /** The first beat, awaited at start (a failure is logged, and the next beat tries again). */
  started: Promise<void>;
  stop(): Promise<void>;
}

export function startHeartbeat(
  heartbeats: Heartbeats,
  identity: Omit<WorkerHeartbeat, 'seen_at'>,
  cfg: HeartbeatConfig,
  logger: Logger,
  onFailure?: () => void,
): HeartbeatLoop {
  let inFlight: Promise<void> | undefined;
  let failing = false;
  let stopped = false;
  const beat = () => {
    if (inFlight || stopped) return inFlight ?? Promise.resolve();
    inFlight = heartbeats
      .beat({ ...identity, seen_at: Date.now() }, cfg.timeoutMs)
      .then(
        () => {
          if (failing) logger.info('Worker heartbeat written again');
          failing = false;
        },
        (err: Error) => {
          onFailure?.();
          // Once per outage: the API's readiness says the rest.
          if (!failing) logger.warn(`Cannot write the worker heartbeat (${err.message}); the API will count this worker as gone after ${cfg.timeoutMs / 1000} s without one`);
          failing = true;
        },
      )
      .finally(() => (inFlight = undefined));
    return inFlight;
  };
  const timer = setInterval(() => void beat(), cfg.intervalMs);
  timer.unref();
  return {
    started: beat(),
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await heartbeats.remove(identity.worker_id).catch(() => {});
      await heartbeats.close();
    },
  };
}
