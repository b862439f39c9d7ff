// The daily maintenance, a list of tasks: retention of raw events (and of the hashed visitors and
// visit states that only they could still match), salt rotation, and rollup placeholders for today
// and tomorrow. Running it twice is harmless.
import { newSaltValue, oldestSaltDay, upcomingSaltDays } from '../core/salt.js';
import { addDays, bucketNumbers, localDay } from '../core/time.js';
import type { Logger } from '../logger.js';
import type { Maintenance, SaltStore, SiteStore } from '../store/port.js';

export interface MaintenanceResult {
  deletedEvents: number;
  deletedSalts: number;
  placeholders: number;
}

export async function runMaintenance(
  store: Maintenance & SaltStore & SiteStore,
  opts: { retentionDays: number; logger: Logger; now?: number },
): Promise<MaintenanceResult> {
  const now = opts.now ?? Date.now();
  const cutoff = now - opts.retentionDays * 86_400_000;
  // Hashed visitors are kept one day longer than the oldest local date still in retention anywhere.
  const deletedEvents = await store.deleteEventsBefore(cutoff, bucketNumbers(cutoff, 'UTC').day - 1);
  for (const day of upcomingSaltDays(now)) await store.ensureSalt(day, newSaltValue(), now);
  const deletedSalts = await store.deleteSaltsBefore(oldestSaltDay(now));
  const rows = (await store.listSites()).flatMap((s) => {
    const today = localDay(now, s.timezone);
    return [today, addDays(today, 1)].map((day) => ({ site_id: s.site_id, day }));
  });
  const placeholders = await store.createPlaceholders(rows, now);
  opts.logger.info(
    { deletedEvents, deletedSalts, placeholders, cutoff: new Date(cutoff).toISOString() },
    `Maintenance done: deleted ${deletedEvents} events older than ${opts.retentionDays} days and ${deletedSalts} old salts, created ${placeholders} daily placeholders`,
  );
  return { deletedEvents, deletedSalts, placeholders };
}
