// Job payloads as SQS message bodies: one payload per message, a payload too large for one message
// split into several (each a payload of its own with part of the events), and messages packed into
// SendMessageBatch requests within SQS's limits. Pure functions, no I/O.

/** SQS's message size limit that holds on every queue (256 KiB; queues may allow more, none less). */
export const MAX_MESSAGE_BYTES = 262_144;
/** The sum of the message sizes of one SendMessageBatch request. */
export const MAX_BATCH_BYTES = 262_144;
/** Entries per SendMessageBatch / DeleteMessageBatch / ChangeMessageVisibilityBatch request. */
export const MAX_BATCH_ENTRIES = 10;

/**
 * SQS accepts #x9 #xA #xD #x20–#xD7FF #xE000–#xFFFD #x10000–#x10FFFF. JSON.stringify already escapes
 * control characters; this also escapes U+FFFE/U+FFFF and (as \uXXXX pairs) characters above U+FFFF,
 * which emulators refuse. The result is still JSON and parses to the same values.
 */
const NOT_PLAIN = /[^\x20-\ud7ff\ue000-\ufffd]/g;
export function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(NOT_PLAIN, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export class MessageTooLargeError extends Error {}

/**
 * The message bodies of one job payload `{...fields, events: [...]}`: the payload itself when it
 * fits in `maxBytes`, else its events spread over several payloads that keep the other fields. Only
 * the `events` array is looked into, so newer payload versions split the same way.
 */
export function encodeJobMessages(payload: { events: readonly unknown[] } & Record<string, unknown>, maxBytes = MAX_MESSAGE_BYTES): string[] {
  const whole = sqsSafeJson(payload);
  if (byteLength(whole) <= maxBytes) return [whole];
  const { events, ...fields } = payload;
  // `{...fields,"events":[]}`: the envelope every part shares; events go between the brackets.
  const envelope = byteLength(sqsSafeJson({ ...fields, events: [] }));
  const bodies: string[] = [];
  let part: unknown[] = [];
  let size = envelope;
  for (const event of events) {
    const n = byteLength(sqsSafeJson(event));
    if (envelope + n > maxBytes) throw new MessageTooLargeError(`one event is ${n} bytes, more than an SQS message holds (${maxBytes} bytes)`);
    const added = n + (part.length > 0 ? 1 : 0); // the comma
    if (part.length > 0 && size + added > maxBytes) {
      bodies.push(sqsSafeJson({ ...fields, events: part }));
      part = [];
      size = envelope;
    }
    size += part.length > 0 ? n + 1 : n;
    part.push(event);
  }
  if (part.length > 0) bodies.push(sqsSafeJson({ ...fields, events: part }));
  for (const b of bodies) if (byteLength(b) > maxBytes) throw new Error(`internal: an SQS message of ${byteLength(b)} bytes`);
  return bodies;
}

/** Groups items into requests of at most `maxEntries` items and `maxBytes` of summed sizes. */
export function packBatches<T>(items: readonly T[], sizeOf: (item: T) => number, maxEntries = MAX_BATCH_ENTRIES, maxBytes = MAX_BATCH_BYTES): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = sizeOf(item);
    if (current.length > 0 && (current.length >= maxEntries || bytes + n > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += n;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Splits into chunks of `size` (for the batch calls that have only an entry limit). */
export function chunks<T>(items: readonly T[], size = MAX_BATCH_ENTRIES): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The events a payload carries, for sizing groups (1 when it has no `events` array). */
export function eventCount(data: unknown): number {
  const events = (data as { events?: unknown })?.events;
  return Array.isArray(events) ? events.length : 1;
}
