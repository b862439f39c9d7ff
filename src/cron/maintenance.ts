// The daily maintenance, a list of tasks: retention of raw events (and of the hashed visitors that
// only they could still match), visits past retention moved to the visit members, salt rotation,
// and rollup placeholders for today and tomorrow. Running it twice is harmless.
import { newSaltValue, oldestSaltDay, upcomingSaltDays } from '../core/salt.js';
import { addDays, bucketNumbers, localDay } from '../core/time.js';
import type { Logger } from '../logger.js';
import type { Maintenance, SaltStore, SiteStore } from '../store/port.js';

const DAY_MS = 86_400_000;

export interface MaintenanceResult {
  deletedEvents: number;
  movedVisits: number;
  deletedSalts: number;
  placeholders: number;
}

export async function runMaintenance(
  store: Maintenance & SaltStore & SiteStore,
  opts: { retentionDays: number; logger: Logger; now?: number },
): Promise<MaintenanceResult> {
  const now = opts.now ?? Date.now();
  // Raw events are kept one day past RETENTION_DAYS, so that an event accepted at the edge of the
  // window just before this runs still applies. The store records the cutoff: its workers refuse
  // older events from then on (their raw events, which make applying idempotent, are gone).
  const cutoff = now - (opts.retentionDays + 1) * DAY_MS;
  // Hashed visitors are kept one day longer than the oldest local date still in retention anywhere.
  const deletedEvents = await store.deleteEventsBefore(cutoff, bucketNumbers(cutoff, 'UTC').day - 1);
  // Visits are the membership of visit-level dimensions: kept, but moved out of the visit states.
  // Two more days of margin keep every visit of a day a worker may still write to in the states.
  const movedVisits = await store.moveVisitsBefore(now - (opts.retentionDays + 3) * DAY_MS);
  for (const day of upcomingSaltDays(now)) await store.ensureSalt(day, newSaltValue(), now);
  const deletedSalts = await store.deleteSaltsBefore(oldestSaltDay(now));
  const rows = (await store.listSites()).flatMap((s) => {
    const today = localDay(now, s.timezone);
    return [today, addDays(today, 1)].map((day) => ({ site_id: s.site_id, day }));
  });
  const placeholders = await store.createPlaceholders(rows, now);
  opts.logger.info(
    { deletedEvents, movedVisits, deletedSalts, placeholders, cutoff: new Date(cutoff).toISOString() },
    `Maintenance done: deleted ${deletedEvents} events older than ${opts.retentionDays} days + 1 day of margin and ${deletedSalts} old salts, ` +
      `moved ${movedVisits} visits past retention to the visit members, created ${placeholders} daily placeholders`,
  );
  return { deletedEvents, movedVisits, deletedSalts, placeholders };
}
