// The event as a client sends it, and the event as it travels through the queue.
import { z } from 'zod';
import { uuidv7 } from './id.js';
import { storableText } from './text.js';

const MAX_PATH_LENGTH = 2048;

/**
 * A string field with the spec's error messages ("site_id is required"), holding only text every
 * store keeps exactly (src/core/text.ts).
 */
function field(name: string, max: number) {
  return z
    .string({
      error: (issue) => (issue.input === undefined ? `${name} is required` : `${name} must be a string`),
    })
    .min(1, { error: `${name} must not be empty` })
    .max(max, { error: `${name} must be at most ${max} characters` })
    .superRefine(storableText(name));
}

/**
 * An example timestamp that is valid now (an hour ago, to the second): the examples a message
 * gives must pass the retention window it will be checked against.
 */
export function exampleTimestamp(now = Date.now()): string {
  return new Date(Math.floor((now - 3_600_000) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Body of `POST /api/event`. Unknown fields are ignored. */
export const eventInputSchema = z.object(
  {
    site_id: field('site_id', 64),
    event_type: field('event_type', 64),
    path: field('path', MAX_PATH_LENGTH),
    user_id: field('user_id', 256),
    timestamp: z
      .string({ error: 'timestamp must be an ISO 8601 string' })
      .pipe(
        z.iso.datetime({
          offset: true,
          error: () => `timestamp must be an ISO 8601 date-time with a timezone, e.g. ${exampleTimestamp()}`,
        }),
      )
      .optional(),
  },
  { error: 'Request body must be a JSON object' },
);

export type EventInput = z.infer<typeof eventInputSchema>;

/** The last event time the calendar arithmetic accepts (see MAX_DAY in time.ts). */
const MAX_EVENT_TS = Date.UTC(9999, 0, 1);

/**
 * An accepted event: what the API puts on the queue and the worker applies. The worker checks each
 * event of a job against it on its own (a job may come from anywhere that can write to the queue),
 * with the same storable-text rule as ingestion.
 */
export const queuedEventSchema = z.object({
  id: z.uuid(),
  site_id: field('site_id', 64),
  event_type: field('event_type', 64),
  path: field('path', MAX_PATH_LENGTH),
  user_id: field('user_id', 256),
  /** Event time, epoch milliseconds. */
  ts: z.number().int().nonnegative().max(MAX_EVENT_TS),
  /** When the API accepted it, epoch milliseconds. */
  received_at: z.number().int().nonnegative().max(MAX_EVENT_TS),
});

export type QueuedEvent = z.infer<typeof queuedEventSchema>;

/** The payload of one queue job: the events of one ingestion batch. */
export const jobPayloadSchema = z.object({ events: z.array(queuedEventSchema).min(1) });
export type JobPayload = z.infer<typeof jobPayloadSchema>;

/**
 * The envelope of a job alone: a list of events, each checked on its own by queuedEventSchema,
 * so that one invalid event is set aside instead of failing the job.
 */
export const jobEnvelopeSchema = z.object({ events: z.array(z.unknown()).min(1) });

/** Event types counted as page views (total_views, top_paths). Other types count toward visitors only. */
export function isPageview(eventType: string): boolean {
  return eventType.toLowerCase() === 'pageview';
}

/** Time-ordered ids (UUIDv7) keep the raw-event index append-mostly. */
export function newEventId(): string {
  return uuidv7();
}

export type TimestampCheck = { ok: true; ts: number } | { ok: false; message: string };

/** Rejects events that retention would delete at once, and events from the future. */
export function checkTimestamp(
  timestamp: string | undefined,
  now: number,
  limits: { retentionDays: number; maxFutureSkewMs: number },
): TimestampCheck {
  if (timestamp === undefined) return { ok: true, ts: now };
  const ts = Date.parse(timestamp);
  if (ts > now + limits.maxFutureSkewMs) {
    return { ok: false, message: `timestamp is more than ${Math.round(limits.maxFutureSkewMs / 1000)} seconds in the future` };
  }
  if (ts < now - limits.retentionDays * 86_400_000) {
    return { ok: false, message: `timestamp is older than the retention window of ${limits.retentionDays} days` };
  }
  return { ok: true, ts };
}

export function toQueuedEvent(input: EventInput, ts: number, now: number): QueuedEvent {
  return {
    id: newEventId(),
    site_id: input.site_id,
    event_type: input.event_type,
    path: input.path,
    user_id: input.user_id,
    ts,
    received_at: now,
  };
}
