// The event as it travels through the queue, in every payload version the worker still accepts.
// The API writes version 2; jobs queued by the previous version (no `v` field) still apply after
// an upgrade (`upgradePayload`).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { uuidv7 } from './id.js';
import { givenVisitor } from './visitor.js';

export const MAX_PATH_LENGTH = 2048;

/** Version 1 (before enrichment): every event had a path and a user id. */
const queuedEventV1Schema = z.object({
  id: z.uuid(),
  site_id: z.string().min(1).max(64),
  event_type: z.string().min(1).max(64),
  path: z.string().min(1).max(MAX_PATH_LENGTH),
  user_id: z.string().min(1).max(256),
  ts: z.number().int().nonnegative(),
  received_at: z.number().int().nonnegative(),
});
export type QueuedEventV1 = z.infer<typeof queuedEventV1Schema>;

const optionalText = (max: number) => z.string().max(max).optional();
const propValue = z.union([z.string().max(256), z.number(), z.boolean()]);

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
  site_id: z.string().min(1).max(64),
  type: z.string().min(1).max(64),
  path: z.string().min(1).max(MAX_PATH_LENGTH),
  /** Encoded visitor identity (core/visitor.ts); absent for ignored events. */
  visitor: z.string().min(3).max(300).optional(),
  /** The page's host, to tell a site's own referrers from others. */
  host: optionalText(253),
  referrer: optionalText(4096),
  utm_source: optionalText(256),
  utm_medium: optionalText(256),
  utm_campaign: optionalText(256),
  utm_term: optionalText(256),
  utm_content: optionalText(256),
  screen_width: z.number().int().nonnegative().optional(),
  language: optionalText(16),
  country: z.string().length(2).optional(),
  ua: optionalText(1024),
  props: z.record(z.string().max(64), propValue).optional(),
  ts: z.number().int().nonnegative(),
  received_at: z.number().int().nonnegative(),
  ignored: z.enum(IGNORE_REASONS).optional(),
});
export type QueuedEvent = z.infer<typeof queuedEventSchema>;

export const PAYLOAD_VERSION = 2;

const payloadV2 = z.object({ v: z.literal(2), events: z.array(queuedEventSchema).min(1) });
const payloadV1 = z.object({ v: z.undefined().optional(), events: z.array(queuedEventV1Schema).min(1) });

/** Every payload version the worker accepts: v2 (`{v: 2, events}`) and v1 (`{events}`). */
export const jobPayloadSchema = z.union([payloadV2, payloadV1]);
export type JobPayload = z.infer<typeof jobPayloadSchema>;

/** Parses a job's payload by its version, so an error names the field at fault (`events.0.id`). */
export function parseJobPayload(data: unknown): ReturnType<typeof jobPayloadSchema.safeParse> {
  const v = data !== null && typeof data === 'object' ? (data as { v?: unknown }).v : undefined;
  return v === 2 ? payloadV2.safeParse(data) : v === undefined ? payloadV1.safeParse(data) : jobPayloadSchema.safeParse(data);
}

/** The payload the API writes. */
export const jobPayload = (events: QueuedEvent[]) => ({ v: PAYLOAD_VERSION, events });

/** Version-1 events as version 2: the user id is a given visitor, the event type keeps its case. */
export function upgradePayload(payload: JobPayload): QueuedEvent[] {
  if (payload.v === 2) return payload.events;
  return payload.events.map((e) => ({
    id: e.id,
    site_id: e.site_id,
    type: e.event_type,
    path: e.path,
    visitor: givenVisitor(e.user_id),
    ts: e.ts,
    received_at: e.received_at,
  }));
}

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
  const h = createHash('sha256').update(siteId).update('\u0000').update(clientId.toLowerCase()).digest();
  h[6] = 0x80 | (h[6]! & 0x0f); // version 8 (custom)
  h[8] = 0x80 | (h[8]! & 0x3f); // variant 10
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
