import { describe, expect, it } from 'vitest';
import { checkTimestamp, eventInputSchema, exampleTimestamp, isPageview, jobPayloadSchema, newEventId, queuedEventSchema, toQueuedEvent } from '../../src/core/event.js';
import { fromZod } from '../../src/api/errors.js';

const valid = { site_id: 'my-website', event_type: 'pageview', path: '/home', user_id: 'user-123' };

function details(body: unknown) {
  const r = eventInputSchema.safeParse(body);
  if (r.success) return [];
  return fromZod(r.error).details ?? [];
}

describe('event validation', () => {
  it('accepts the spec body, with or without a timestamp', () => {
    expect(eventInputSchema.parse(valid)).toEqual(valid);
    expect(eventInputSchema.parse({ ...valid, timestamp: '2024-01-15T10:30:00Z', extra: 1 })).toEqual({ ...valid, timestamp: '2024-01-15T10:30:00Z' });
    expect(eventInputSchema.parse({ ...valid, timestamp: '2024-01-15T10:30:00.123+02:00' }).timestamp).toBe('2024-01-15T10:30:00.123+02:00');
  });

  it('names each missing field as the spec shows', () => {
    expect(details({})).toEqual([
      { field: 'site_id', message: 'site_id is required' },
      { field: 'event_type', message: 'event_type is required' },
      { field: 'path', message: 'path is required' },
      { field: 'user_id', message: 'user_id is required' },
    ]);
  });

  it('rejects wrong types, empty and oversized values, bad timestamps and non-objects', () => {
    expect(details({ ...valid, site_id: 42 })).toEqual([{ field: 'site_id', message: 'site_id must be a string' }]);
    expect(details({ ...valid, path: '' })).toEqual([{ field: 'path', message: 'path must not be empty' }]);
    expect(details({ ...valid, path: '/' + 'a'.repeat(2048) })).toEqual([{ field: 'path', message: 'path must be at most 2048 characters' }]);
    expect(details({ ...valid, timestamp: '2024-01-15 10:30' })[0]?.field).toBe('timestamp');
    expect(details({ ...valid, timestamp: '2024-01-15T10:30:00' })[0]?.message).toMatch(/timezone/);
    expect(details([valid])).toEqual([{ field: 'body', message: 'Request body must be a JSON object' }]);
    expect(details(null)).toEqual([{ field: 'body', message: 'Request body must be a JSON object' }]);
  });

  // Issue 9, item 2: a 2xx only for strings every store keeps exactly.
  it('refuses NUL and lone surrogates in every string field, naming the field', () => {
    for (const field of ['site_id', 'event_type', 'path', 'user_id'] as const) {
      expect(details({ ...valid, [field]: `x\u0000y` }), field).toEqual([{ field, message: `${field} must not contain a NUL character (U+0000, at position 1)` }]);
      expect(details({ ...valid, [field]: `x\udc00` })[0], field).toMatchObject({ field, message: expect.stringMatching(/must be well-formed Unicode/) });
    }
    // The worker applies the same rule to what it takes from the queue.
    expect(queuedEventSchema.safeParse({ ...toQueuedEvent(valid, 1, 2), path: '/\u0000' }).success).toBe(false);
    expect(queuedEventSchema.safeParse({ ...toQueuedEvent(valid, 1, 2), ts: 8.64e15 }).success).toBe(false);
  });

  // Issue 9, item 14: the example in the message is accepted at the time it is given.
  it('gives a timestamp example that is valid now', () => {
    const message = details({ ...valid, timestamp: 'yesterday' })[0]!.message;
    const example = /e\.g\. (\S+)$/.exec(message)![1]!;
    expect(example).not.toBe('2024-01-15T10:30:00Z');
    expect(eventInputSchema.safeParse({ ...valid, timestamp: example }).success).toBe(true);
    expect(checkTimestamp(example, Date.now(), { retentionDays: 1, maxFutureSkewMs: 0 }).ok).toBe(true);
    const later = Date.parse('2031-05-01T08:00:00Z');
    expect(checkTimestamp(exampleTimestamp(later), later, { retentionDays: 1, maxFutureSkewMs: 0 }).ok).toBe(true);
  });

  it('accepts 2,000-character and unicode paths', () => {
    expect(eventInputSchema.safeParse({ ...valid, path: '/' + 'é'.repeat(1999) }).success).toBe(true);
    expect(eventInputSchema.safeParse({ ...valid, path: '/__proto__/$x.y' }).success).toBe(true);
  });
});

describe('event timestamps', () => {
  const now = Date.parse('2024-06-15T12:00:00Z');
  const limits = { retentionDays: 7, maxFutureSkewMs: 300_000 };

  it('defaults to the time of receipt', () => {
    expect(checkTimestamp(undefined, now, limits)).toEqual({ ok: true, ts: now });
  });

  it('accepts late events inside the retention window and small clock skew', () => {
    expect(checkTimestamp('2024-06-08T12:00:01Z', now, limits)).toEqual({ ok: true, ts: Date.parse('2024-06-08T12:00:01Z') });
    expect(checkTimestamp('2024-06-15T12:04:59Z', now, limits).ok).toBe(true);
  });

  it('rejects events older than retention or more than 5 minutes ahead', () => {
    expect(checkTimestamp('2024-06-08T11:59:59Z', now, limits)).toEqual({ ok: false, message: 'timestamp is older than the retention window of 7 days' });
    expect(checkTimestamp('2024-06-15T12:05:01Z', now, limits)).toEqual({ ok: false, message: 'timestamp is more than 300 seconds in the future' });
  });
});

describe('queued events', () => {
  it('gets a unique id at ingestion', () => {
    const a = toQueuedEvent(valid, 1, 2);
    const b = toQueuedEvent(valid, 1, 2);
    expect(a.id).not.toBe(b.id);
    expect(a).toMatchObject({ ...valid, ts: 1, received_at: 2 });
    expect(newEventId()).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rejects malformed job payloads', () => {
    expect(jobPayloadSchema.safeParse({ events: [toQueuedEvent(valid, 1, 2)] }).success).toBe(true);
    expect(jobPayloadSchema.safeParse({ events: [] }).success).toBe(false);
    expect(jobPayloadSchema.safeParse({ events: [{ ...toQueuedEvent(valid, 1, 2), ts: 'soon' }] }).success).toBe(false);
    expect(jobPayloadSchema.safeParse('garbage').success).toBe(false);
  });

  it('counts only pageviews as views', () => {
    expect(isPageview('pageview')).toBe(true);
    expect(isPageview('PageView')).toBe(true);
    expect(isPageview('click')).toBe(false);
  });
});

describe('UUIDv7 ids', () => {
  it('are valid version-7 UUIDs carrying their millisecond, and unique', async () => {
    const { uuidv7 } = await import('../../src/core/id.js');
    const { z } = await import('zod');
    const at = Date.parse('2024-06-15T12:00:00.123Z');
    const id = uuidv7(at);
    expect(z.uuid().safeParse(id).success).toBe(true);
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    const many = new Set(Array.from({ length: 5000 }, () => uuidv7(at)));
    expect(many.size).toBe(5000);
    expect(uuidv7(at + 1) > uuidv7(at)).toBe(true);
  });
});
