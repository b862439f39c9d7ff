// Applies a group of queue jobs to the store in one transaction. If the group fails, each job is
// tried on its own, so one bad job (a poison payload, an unknown site) fails alone and the jobs
// queued with it succeed.
import { parseJobPayload, upgradePayload } from '../core/event.js';
import type { Logger } from '../logger.js';
import type { ClaimedJob, GroupHandler } from '../queue/port.js';
import type { EventSink, PreparedEvent } from '../store/port.js';
import type { SiteCache } from '../store/site-cache.js';
import { prepareEvent } from './prepare.js';

export class InvalidJobError extends Error {}

export interface ApplyDeps {
  store: EventSink;
  /** SESSION_TIMEOUT_MINUTES in ms. */
  sessionTimeoutMs: number;
  sites: SiteCache;
  logger: Logger;
  /** JOB_ATTEMPTS: a failure of the last attempt leaves the job in the failed set. */
  attempts: number;
  now?: () => number;
}

export function createGroupHandler(deps: ApplyDeps): GroupHandler {
  const now = deps.now ?? Date.now;

  async function prepare(job: ClaimedJob): Promise<PreparedEvent[]> {
    const parsed = parseJobPayload(job.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidJobError(`invalid job payload: ${issue?.path.join('.') || 'payload'}: ${issue?.message}`);
    }
    const out: PreparedEvent[] = [];
    for (const e of upgradePayload(parsed.data)) {
      const site = deps.sites.get(e.site_id) ?? (await deps.sites.fetch(e.site_id));
      if (!site) throw new InvalidJobError(`unknown site: ${e.site_id}`);
      out.push(prepareEvent(e, site));
    }
    return out;
  }

  async function apply(jobs: { job: ClaimedJob; events: PreparedEvent[] }[]): Promise<void> {
    const started = performance.now();
    const events = jobs.flatMap((j) => j.events);
    for (const [site, n] of countBySite(events)) {
      deps.logger.info(`Processing ${n === 1 ? 'event' : `${n} events`} for site: ${site}`);
    }
    const result = await deps.store.applyEvents(events, { now: now(), sessionTimeoutMs: deps.sessionTimeoutMs });
    const ms = Math.round(performance.now() - started);
    deps.logger.info(
      { jobs: jobs.length, events: events.length, applied: result.applied, duplicates: result.duplicates, ms },
      events.length === 1 ? 'Event processed successfully' : `${events.length} events processed successfully`,
    );
  }

  function failed(job: ClaimedJob, err: Error): Error {
    const attempt = job.attemptsMade + 1;
    deps.logger.error({ job: job.id, attempt }, `Job failed: ${err.message}`);
    if (attempt >= deps.attempts) {
      deps.logger.error(
        { job: job.id },
        `Job ${job.id} failed ${attempt} times and stays in the failed set; once the cause is fixed, \`npm run queue:retry-failed\` queues it again`,
      );
    }
    return err;
  }

  return async (jobs) => {
    const results: (Error | null)[] = jobs.map(() => null);
    const ready: { index: number; job: ClaimedJob; events: PreparedEvent[] }[] = [];
    for (const [index, job] of jobs.entries()) {
      try {
        ready.push({ index, job, events: await prepare(job) });
      } catch (err) {
        results[index] = failed(job, asError(err));
      }
    }
    if (ready.length === 0) return results;
    try {
      await apply(ready);
    } catch (err) {
      if (ready.length === 1) {
        results[ready[0]!.index] = failed(ready[0]!.job, asError(err));
        return results;
      }
      deps.logger.warn(`A group of ${ready.length} jobs failed (${asError(err).message}); applying them one by one`);
      for (const r of ready) {
        try {
          await apply([r]);
        } catch (single) {
          results[r.index] = failed(r.job, asError(single));
        }
      }
    }
    return results;
  };
}

function countBySite(events: PreparedEvent[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) m.set(e.site_id, (m.get(e.site_id) ?? 0) + 1);
  return m;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
