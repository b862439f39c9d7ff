// Applies a group of queue jobs to the store in one transaction. One bad event never costs another:
//  - each event of a job is checked on its own (the queued-event schema, with the storable-text rule
//    of ingestion); an invalid event is set aside, the others go on;
//  - if the group's transaction fails, each job is applied on its own, and inside a job that still
//    fails the bad events are found by bisection (isolate.ts): the others are applied, the bad ones
//    set aside;
//  - events of a site the store does not know are not applied: the job is retried (loudly: a
//    worker on the wrong database looks like this), and after its last attempt they are set aside;
//  - new events older than the retention cutoff the maintenance recorded are not applied by the
//    store (their raw events, which make a replay count once, may be deleted): they are set aside.
// Set-aside events are kept in the store (`rejected_events`), logged one by one at error level and
// counted in the batch log line. A job whose events were all applied or set aside completes.
import { jobEnvelopeSchema, parseQueuedEvent } from '../core/event.js';
import { escapeUnstorable } from '../core/text.js';
import type { Logger } from '../logger.js';
import { timed } from '../metrics/store-timing.js';
import type { WorkerMetrics } from '../metrics/worker.js';
import type { ClaimedJob, GroupHandler } from '../queue/port.js';
import type { AnalyticsStore, ApplyResult, EventSink, PreparedEvent, RejectedEvent } from '../store/port.js';
import type { SiteCache } from '../store/site-cache.js';
import { applyIsolatingBadEvents } from './isolate.js';
import { prepareEvent } from './prepare.js';

export class InvalidJobError extends Error {}
export class UnknownSiteError extends Error {}

/** What the worker uses of the store. */
export type WorkerStore = EventSink & Pick<AnalyticsStore, 'kind' | 'ping' | 'isDataError' | 'rejectEvents'>;

export interface ApplyDeps {
  store: WorkerStore;
  /** SESSION_TIMEOUT_MINUTES in ms. */
  sessionTimeoutMs: number;
  sites: SiteCache;
  logger: Logger;
  /** Where the store is, for the unknown-site message: `the postgres store at …`. */
  storeDescription?: string;
  /** Runs before each group; throwing fails the group unapplied (the worker's store is not its queue's). */
  guard?: () => Promise<void>;
  now?: () => number;
  /** Applied events, group sizes and durations, lag, store latency, failed attempts. */
  metrics?: WorkerMetrics;
}

interface Prepared {
  index: number;
  job: ClaimedJob;
  events: PreparedEvent[];
  /** Events as they were in the queue, by event id (what a rejection keeps). */
  raw: Map<string, unknown>;
  rejected: RejectedEvent[];
  unknownSites: Map<string, unknown[]>;
  failure?: Error;
}

export function createGroupHandler(deps: ApplyDeps): GroupHandler {
  const now = deps.now ?? Date.now;
  const reject = (event: unknown, siteId: unknown, reason: string): RejectedEvent => ({
    event,
    site_id: typeof siteId === 'string' ? siteId : '',
    reason,
    rejected_at: now(),
  });

  async function prepare(index: number, job: ClaimedJob): Promise<Prepared> {
    const envelope = jobEnvelopeSchema.safeParse(job.data);
    if (!envelope.success) {
      const issue = envelope.error.issues[0];
      throw new InvalidJobError(`invalid job payload: ${issue?.path.join('.') || 'payload'}: ${issue?.message}`);
    }
    const p: Prepared = { index, job, events: [], raw: new Map(), rejected: [], unknownSites: new Map() };
    for (const [i, raw] of envelope.data.events.entries()) {
      const parsed = parseQueuedEvent(envelope.data.v, raw);
      const siteId = (raw as { site_id?: unknown } | null)?.site_id;
      if (!parsed.success) {
        const reasons = parsed.error.issues.map((x) => `${x.path.join('.') || 'event'}: ${x.message}`).join('; ');
        p.rejected.push(reject(raw, siteId, `invalid event (events.${i}): ${reasons}`));
        continue;
      }
      const e = parsed.data;
      const site = deps.sites.get(e.site_id) ?? (await deps.sites.fetch(e.site_id));
      if (!site) {
        const list = p.unknownSites.get(e.site_id) ?? [];
        list.push(raw);
        p.unknownSites.set(e.site_id, list);
        continue;
      }
      p.events.push(prepareEvent(e, site));
      p.raw.set(e.id, raw);
    }
    return p;
  }

  const metrics = deps.metrics;
  const observeApply = (seconds: number) => metrics?.observeApply(seconds);
  /** Applies events; the ids the store reports expired are added to `expired`. */
  const applier =
    (expired: Set<string>) =>
    async (events: PreparedEvent[]): Promise<ApplyResult> => {
      const r = await timed(observeApply, () => deps.store.applyEvents(events, { now: now(), sessionTimeoutMs: deps.sessionTimeoutMs }));
      for (const id of r.expired ?? []) expired.add(id);
      return r;
    };

  async function applyTogether(events: PreparedEvent[], apply: (events: PreparedEvent[]) => Promise<ApplyResult>): Promise<ApplyResult> {
    for (const [site, n] of countBySite(events)) {
      deps.logger.info(`Processing ${n === 1 ? 'event' : `${n} events`} for site: ${site}`);
    }
    return apply(events);
  }

  function logProcessed(jobs: number, events: number, r: { applied: number; duplicates: number }, rejected: number, started: number) {
    const ms = Math.round(performance.now() - started);
    deps.logger.info(
      { jobs, events, applied: r.applied, duplicates: r.duplicates, rejected, ms },
      events === 1 ? 'Event processed successfully' : `${events} events processed successfully`,
    );
  }

  /** Logs the job's real state, from its own options: retried (when, which attempt) or failed for good. */
  function failed(job: ClaimedJob, err: Error): Error {
    const attempt = job.attemptsMade + 1;
    metrics?.jobFailed(attempt >= job.maxAttempts);
    deps.logger.error({ job: job.id, attempt, of: job.maxAttempts }, `Job failed: ${err.message}`);
    if (attempt >= job.maxAttempts) {
      deps.logger.error(
        { job: job.id },
        `Job ${job.id} failed ${attempt} time${attempt === 1 ? '' : 's'} (all its attempts) and stays in the failed set; once the cause is fixed, \`npm run queue:retry-failed\` queues it again`,
      );
    } else {
      deps.logger.warn(
        { job: job.id, attempt, of: job.maxAttempts, retry_in_ms: job.retryDelayMs },
        `Job ${job.id} will be tried again in ${formatMs(job.retryDelayMs)} (attempt ${attempt + 1} of ${job.maxAttempts})`,
      );
    }
    return err;
  }

  /** Events of sites this store does not know: retried loudly, set aside after the last attempt. */
  function unknownSites(p: Prepared): Error | undefined {
    if (p.unknownSites.size === 0) return undefined;
    const attempt = p.job.attemptsMade + 1;
    const last = attempt >= p.job.maxAttempts;
    const where = deps.storeDescription ?? `the ${deps.store.kind} store`;
    for (const [site, events] of p.unknownSites) {
      const what =
        `Job ${p.job.id}: ${events.length} event${events.length === 1 ? '' : 's'} for site "${escapeUnstorable(site)}", which ${where} does not know ` +
        `(attempt ${attempt} of ${p.job.maxAttempts}). The API that queued them writes to another database, or the site was deleted: ` +
        `start this worker with the API's DATABASE_URL / MONGODB_URI / DATA_DIR.`;
      deps.logger.error({ job: p.job.id, site, events: events.length, attempt, of: p.job.maxAttempts }, last ? `${what} Last attempt: they are set aside in rejected_events.` : what);
      if (last) p.rejected.push(...events.map((raw) => reject(raw, site, `unknown site "${site}" in ${where} after ${attempt} attempts`)));
    }
    if (last) return undefined;
    const sites = [...p.unknownSites.keys()].map((s) => `"${escapeUnstorable(s)}"`).join(', ');
    return new UnknownSiteError(`unknown site ${sites} in ${where}; the job's other events were applied`);
  }

  return async (jobs) => {
    const started = performance.now();
    try {
      return await handle(jobs, started);
    } finally {
      metrics?.batchDuration.observe((performance.now() - started) / 1000);
    }
  };

  async function handle(jobs: ClaimedJob[], started: number): Promise<(Error | null)[]> {
    if (deps.guard) {
      try {
        await deps.guard();
      } catch (err) {
        return jobs.map(() => asError(err));
      }
    }
    const results: (Error | null)[] = jobs.map(() => null);
    const ready: Prepared[] = [];
    for (const [index, job] of jobs.entries()) {
      try {
        ready.push(await prepare(index, job));
      } catch (err) {
        results[index] = failed(job, asError(err));
      }
    }
    const events = ready.flatMap((p) => p.events);
    let totals = { applied: 0, duplicates: 0 };
    const expired = new Set<string>();
    const apply = applier(expired);
    if (events.length > 0) {
      try {
        totals = await applyTogether(events, apply);
      } catch (err) {
        totals = await applyOneByOne(ready, asError(err), apply);
      }
    }
    if (expired.size > 0) {
      for (const p of ready) {
        for (const e of p.events) {
          if (!expired.has(e.id)) continue;
          p.rejected.push(
            reject(
              p.raw.get(e.id),
              e.site_id,
              `older than the retention cutoff: its time ${new Date(e.ts).toISOString()} is before the cutoff the maintenance recorded when it deleted ` +
                `older raw events (RETENTION_DAYS + 1 day), so it may have been counted already and is not applied`,
            ),
          );
        }
      }
    }

    for (const p of ready) {
      if (p.failure) continue;
      const unknown = unknownSites(p);
      if (unknown) p.failure = unknown;
    }
    // Kept even when a job is retried for another reason: a retry finds the same events again, and
    // keeping them is idempotent.
    const rejected = ready.flatMap((p) => p.rejected);
    if (rejected.length > 0) {
      try {
        await deps.store.rejectEvents(rejected);
        metrics?.setAside.inc(rejected.length);
        for (const r of rejected) {
          const id = (r.event as { id?: unknown } | null)?.id;
          const eventId = typeof id === 'string' ? escapeUnstorable(id) : null;
          deps.logger.error(
            { event_id: eventId, site: escapeUnstorable(r.site_id) },
            `Event ${eventId ?? '(no id)'} of site "${escapeUnstorable(r.site_id)}" set aside in rejected_events: ${escapeUnstorable(r.reason)}`,
          );
        }
      } catch (err) {
        // Not kept: those jobs are retried (their applied events count once anyway).
        for (const p of ready) if (p.rejected.length > 0) p.failure ??= new Error(`could not keep rejected events: ${asError(err).message}`);
      }
    }
    for (const p of ready) if (p.failure) results[p.index] = failed(p.job, p.failure);
    const done = ready.filter((p) => !p.failure);
    const processed = done.reduce((n, p) => n + p.events.length, 0);
    if (processed > 0) logProcessed(done.length, processed, totals, rejected.length, started);
    if (metrics && events.length > 0) {
      metrics.recordGroup(totals, events.length, done.flatMap((p) => p.events.map((e) => e.received_at)), now());
    }
    return results;
  }

  /** The group failed: each job alone, and inside a job the bad events found by bisection. */
  async function applyOneByOne(ready: Prepared[], groupError: Error, apply: (events: PreparedEvent[]) => Promise<ApplyResult>): Promise<{ applied: number; duplicates: number }> {
    const totals = { applied: 0, duplicates: 0 };
    if (ready.length > 1) deps.logger.warn(`A group of ${ready.length} jobs failed (${groupError.message}); applying them one by one`);
    for (const p of ready) {
      if (p.events.length === 0) continue;
      const r = await applyIsolatingBadEvents(p.events, {
        apply,
        ping: () => deps.store.ping(),
        isDataError: (err) => deps.store.isDataError(err),
      });
      totals.applied += r.applied;
      totals.duplicates += r.duplicates;
      for (const bad of r.bad) p.rejected.push(reject(p.raw.get(bad.event.id), bad.event.site_id, `refused by the ${deps.store.kind} store: ${bad.error.message}`));
      if (r.failure) p.failure = r.failure;
    }
    return totals;
  }
}

function countBySite(events: PreparedEvent[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) m.set(e.site_id, (m.get(e.site_id) ?? 0) + 1);
  return m;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
