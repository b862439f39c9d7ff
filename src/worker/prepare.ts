// From a queued event to what the event sink applies: derived values (core/derive.ts), buckets in
// the site's timezone, and the value of every dimension in the registry (core/dimensions.ts).
import { deriveEvent } from '../core/derive.js';
import { EVENT_DIMENSIONS, VISIT_DIMENSIONS } from '../core/dimensions.js';
import type { QueuedEvent } from '../core/event.js';
import type { Site } from '../core/site.js';
import { bucketNumbers } from '../core/time.js';
import type { PreparedEvent } from '../store/port.js';

export function prepareEvent(event: QueuedEvent, site: Site): PreparedEvent {
  const d = deriveEvent(event);
  const eventValues: PreparedEvent['eventValues'] = [];
  if (!d.ignored) {
    for (const dim of EVENT_DIMENSIONS) for (const v of dim.values!(d)) eventValues.push([dim.id, v.scope, v.value]);
  }
  // Added to the derived object rather than spread into a new one: a spread of this many fields
  // makes a slow dictionary-mode object, which cost ~10 µs per event in allocation and GC.
  return Object.assign(d, {
    timezone: site.timezone,
    buckets: bucketNumbers(d.ts, site.timezone),
    eventValues,
    visitValues: d.ignored ? [] : VISIT_DIMENSIONS.map((dim) => dim.values!(d)[0]?.value ?? null),
  });
}
