// The daily maintenance: retention of raw events and rollup placeholders for today and tomorrow.
import { addDays, localDay } from '../core/time.js';
import type { Logger } from '../logger.js';
import type { AnalyticsStore } from '../store/port.js';

export interface MaintenanceResult {
  deletedEvents: number;
  placeholders: number;
}

export async function runMaintenance(
  store: AnalyticsStore,
  opts: { retentionDays: number; logger: Logger; now?: number },
): Promise<MaintenanceResult> {
  const now = opts.now ?? Date.now();
  const cutoff = now - opts.retentionDays * 86_400_000;
  const deletedEvents = await store.deleteEventsBefore(cutoff);
  const rows = (await store.listSites()).flatMap((s) => {
    const today = localDay(now, s.timezone);
    return [today, addDays(today, 1)].map((day) => ({ site_id: s.site_id, day }));
  });
  const placeholders = await store.createPlaceholders(rows, now);
  opts.logger.info(
    { deletedEvents, placeholders, cutoff: new Date(cutoff).toISOString() },
    `Maintenance done: deleted ${deletedEvents} events older than ${opts.retentionDays} days, created ${placeholders} daily_stats placeholders`,
  );
  return { deletedEvents, placeholders };
}
