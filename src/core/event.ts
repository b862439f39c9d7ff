// The event as it travels through the queue, in every payload version the worker still accepts.
// The API writes version 2; jobs queued by the previous version (no `v` field) still apply after
// an upgrade (`parseQueuedEvent`).
import { hash } from 'node:crypto';
import { z } from 'zod';
import { uuidv7 } from './id.js';
import { storableText } from './text.js';
import { givenVisitor } from './visitor.js';

export const MAX_PATH_LENGTH = 2048;

/**
 * A string field with the spec's error messages ("site_id is required"), holding only text every
 * store keeps exactly (src/core/text.ts). The worker checks queued events with it too: a job may
 * come from anywhere that can write to the queue.
 */
function field(name: string, max: number, min = 1) {
  return z
    .string({
      error: (issue) => (issue.input === undefined ? `${name} is required` : `${name} must be a string`),
    })
    .min(min, { error: `${name} must not be empty` })
    .max(max, { error: `${name} must be at most ${max} characters` })
    .refine(...storableText(name));
}

/**
 * An example timestamp that is valid now (an hour ago, to the second): the examples a message
 * gives must pass the retention window it will be checked against.
 */
export function exampleTimestamp(now = Date.now()): string {
  return new Date(Math.floor((now - 3_600_000) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The last event time the calendar arithmetic accepts (see MAX_DAY in time.ts). */
const MAX_EVENT_TS = Date.UTC(9999, 0, 1);
const epochMs = () => z.number().int().nonnegative().max(MAX_EVENT_TS);

/** Version 1 (before enrichment): every event had a path and a user id. */
const queuedEventV1Schema = z.object({
  id: z.uuid(),
  site_id: field('site_id', 64),
  event_type: field('event_type', 64),
  path: field('path', MAX_PATH_LENGTH),
  user_id: field('user_id', 256),
  ts: epochMs(),
  received_at: epochMs(),
});
export type QueuedEventV1 = z.infer<typeof queuedEventV1Schema>;

const optionalText = (name: string, max: number) => field(name, max, 0).optional();
const propValue = z.union([field('property value', 256, 0), z.number(), z.boolean()]);

/** Why the API accepted an event without counting it. */
export const IGNORE_REASONS = ['bot'] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

/**
 * Version 2: what the API knows after its ingestion steps. Steps that need the client's IP
 * (visitor hash, country) ran in the API, so the IP is not here; the worker derives the rest
 * (browser, OS, device, source, screen class) — see core/derive.ts.
 */
export const queuedEventSchema = z.object({
  id: z.uuid(),
  site_id: field('site_id', 64),
  type: field('type', 64),
  path: field('path', MAX_PATH_LENGTH),
  /** Encoded visitor identity (core/visitor.ts); absent for ignored events. */
  visitor: field('visitor', 300).optional(),
  /** The page's host, to tell a site's own referrers from others. */
  host: optionalText('host', 253),
  referrer: optionalText('referrer', 4096),
  utm_source: optionalText('utm_source', 256),
  utm_medium: optionalText('utm_medium', 256),
  utm_campaign: optionalText('utm_campaign', 256),
  utm_term: optionalText('utm_term', 256),
  utm_content: optionalText('utm_content', 256),
  screen_width: z.number().int().nonnegative().optional(),
  language: optionalText('language', 16),
  country: z.string().length(2).optional(),
  ua: optionalText('ua', 1024),
  props: z.record(field('property name', 64), propValue).optional(),
  ts: epochMs(),
  received_at: epochMs(),
  ignored: z.enum(IGNORE_REASONS).optional(),
});
export type QueuedEvent = z.infer<typeof queuedEventSchema>;

export const PAYLOAD_VERSION = 2;

/**
 * The envelope of a job alone: its version and a list of events, each checked on its own (by
 * `parseQueuedEvent`), so that one invalid event is set aside instead of failing the job.
 */
export const jobEnvelopeSchema = z.object({ v: z.literal(2).optional(), events: z.array(z.unknown()).min(1) });
export type JobEnvelope = z.infer<typeof jobEnvelopeSchema>;

/**
 * One event of a job, by its payload's version: version 2 as is, version 1 read as version 2 (its
 * user id is a given visitor, its event type keeps its case). Errors name the field at fault.
 */
export function parseQueuedEvent(version: 2 | undefined, raw: unknown): z.ZodSafeParseResult<QueuedEvent> {
  if (version === 2) return queuedEventSchema.safeParse(raw);
  const v1 = queuedEventV1Schema.safeParse(raw);
  if (!v1.success) return v1 as unknown as z.ZodSafeParseResult<QueuedEvent>;
  const e = v1.data;
  return { success: true, data: { id: e.id, site_id: e.site_id, type: e.event_type, path: e.path, visitor: givenVisitor(e.user_id), ts: e.ts, received_at: e.received_at } };
}

/** The payload the API writes. */
export const jobPayload = (events: QueuedEvent[]) => ({ v: PAYLOAD_VERSION, events });

/** Event types counted as page views (total_views, top_paths). Other types are custom events. */
export function isPageview(eventType: string): boolean {
  return eventType.toLowerCase() === 'pageview';
}

/** Time-ordered ids (UUIDv7) keep the raw-event index append-mostly. */
export function newEventId(): string {
  return uuidv7();
}

/**
 * The id of an event whose client chose an `event_id`: a UUID derived from (site, event_id), so
 * the same client id counts once per site however often it is sent, and two sites never collide.
 */
export function clientEventId(siteId: string, clientId: string): string {
  const h = hash('sha256', `${siteId}\u0000${clientId.toLowerCase()}`, 'buffer') as unknown as Buffer;
  h[6] = 0x80 | (h[6]! & 0x0f); // version 8 (custom)
  h[8] = 0x80 | (h[8]! & 0x3f); // variant 10
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
