// The request body's rules, the queue's payload versions, and event ids.
import { describe, expect, it } from 'vitest';
import { fromZod } from '../../src/api/errors.js';
import { clientEventId, exampleTimestamp, isPageview, jobEnvelopeSchema, newEventId, parseQueuedEvent, queuedEventSchema } from '../../src/core/event.js';
import { eventInputSchema } from '../../src/ingest/schema.js';

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

  it('names each missing field as the spec shows; user_id is optional, path may come from url', () => {
    expect(details({})).toEqual([
      { field: 'site_id', message: 'site_id is required' },
      { field: 'event_type', message: 'event_type is required' },
    ]);
    expect(details({ site_id: 's', event_type: 'pageview' })).toEqual([{ field: 'path', message: 'path is required (or url)' }]);
    expect(details({ site_id: 's', event_type: 'pageview', url: 'https://example.com/a' })).toEqual([]);
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

  it('accepts 2,000-character and unicode paths, refuses strings no store can keep', () => {
    expect(eventInputSchema.safeParse({ ...valid, path: '/' + 'é'.repeat(1999) }).success).toBe(true);
    expect(eventInputSchema.safeParse({ ...valid, path: '/__proto__/$x.y' }).success).toBe(true);
    expect(details({ ...valid, path: '/a\u0000b' })[0]?.field).toBe('path');
    expect(details({ ...valid, user_id: 'x\uD800' })[0]?.field).toBe('user_id');
    expect(details({ ...valid, props: { k: 'v\u0000' } })[0]?.field).toBe('props.k');
  });

  // Issue 9, item 2: a 2xx only for strings every store keeps exactly.
  it('refuses NUL and lone surrogates in every string field, naming the field', () => {
    for (const field of ['site_id', 'event_type', 'path', 'user_id', 'referrer', 'language'] as const) {
      expect(details({ ...valid, [field]: `x\u0000y` }), field).toEqual([{ field, message: `${field} must not contain a NUL character (U+0000, at position 1)` }]);
      expect(details({ ...valid, [field]: `x\udc00` })[0], field).toMatchObject({ field, message: expect.stringMatching(/must be well-formed Unicode/) });
    }
    // The worker applies the same rule to what it takes from the queue.
    const q = { id: newEventId(), site_id: 's', type: 'pageview', path: '/', visitor: 'u:a', ts: 1, received_at: 2 };
    expect(queuedEventSchema.safeParse(q).success).toBe(true);
    expect(queuedEventSchema.safeParse({ ...q, path: '/\u0000' }).success).toBe(false);
    expect(queuedEventSchema.safeParse({ ...q, referrer: 'x\ud800' }).success).toBe(false);
    expect(queuedEventSchema.safeParse({ ...q, ts: 8.64e15 }).success).toBe(false);
  });

  // Issue 9, item 14: the example in the message is accepted at the time it is given.
  it('gives a timestamp example that is valid now', () => {
    const message = details({ ...valid, timestamp: 'yesterday' })[0]!.message;
    const example = /e\.g\. (\S+)$/.exec(message)![1]!;
    expect(example).not.toBe('2024-01-15T10:30:00Z');
    expect(eventInputSchema.safeParse({ ...valid, timestamp: example }).success).toBe(true);
    const age = Date.now() - Date.parse(example);
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(86_400_000);
    const later = Date.parse('2031-05-01T08:00:00Z');
    expect(later - Date.parse(exampleTimestamp(later))).toBeLessThan(86_400_000);
  });

  it('checks the fields a browser sends', () => {
    expect(details({ ...valid, url: 'ftp://example.com/' })).toEqual([{ field: 'url', message: 'url must be an absolute http(s) URL' }]);
    expect(details({ ...valid, url: '/relative' })[0]?.field).toBe('url');
    expect(details({ ...valid, screen_width: -1 })[0]?.field).toBe('screen_width');
    expect(details({ ...valid, screen_width: 1.5 })[0]?.field).toBe('screen_width');
    expect(details({ ...valid, event_id: 'not-a-uuid' })).toEqual([{ field: 'event_id', message: 'event_id must be a UUID' }]);
    expect(details({ ...valid, props: { plan: 'pro', seats: 3, trial: true } })).toEqual([]);
  });

  it('holds custom properties to their limits', () => {
    const many = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, i]));
    expect(details({ ...valid, props: many })).toEqual([{ field: 'props', message: 'props holds at most 30 properties' }]);
    expect(details({ ...valid, props: { ['k'.repeat(65)]: 1 } })[0]?.message).toMatch(/property names must be at most 64/);
    expect(details({ ...valid, props: { k: 'v'.repeat(257) } })[0]?.message).toMatch(/at most 256/);
    expect(details({ ...valid, props: { k: { nested: 1 } } })[0]?.message).toMatch(/string, a number or a boolean/);
    expect(details({ ...valid, props: { k: [1] } })[0]?.field).toBe('props.k');
    expect(details({ ...valid, props: 'x' })[0]?.field).toBe('props');
  });
});

describe('queued payloads', () => {
  const v2 = { id: newEventId(), site_id: 's', type: 'pageview', path: '/', visitor: 'u:a', ts: 1, received_at: 2 };

  it('reads the envelope of version 2 and of the previous version, and each event on its own', () => {
    expect(jobEnvelopeSchema.safeParse({ v: 2, events: [v2] }).success).toBe(true);
    expect(jobEnvelopeSchema.safeParse({ events: [{ anything: 1 }] }).success).toBe(true);
    expect(jobEnvelopeSchema.safeParse({ v: 2, events: [] }).success).toBe(false);
    expect(jobEnvelopeSchema.safeParse({ v: 3, events: [v2] }).success).toBe(false);
    expect(jobEnvelopeSchema.safeParse('garbage').success).toBe(false);
    expect(parseQueuedEvent(2, v2).success).toBe(true);
    const bad = parseQueuedEvent(2, { ...v2, ts: 'soon' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['ts']);
    expect(parseQueuedEvent(undefined, v2).success).toBe(false); // a version-1 event has a user_id
  });

  it('reads a version-1 event as a given visitor with its path and type', () => {
    const id = newEventId();
    const r = parseQueuedEvent(undefined, { id, site_id: 's', event_type: 'Signup', path: '/x', user_id: 'u1', ts: 5, received_at: 6 });
    expect(r.data).toEqual({ id, site_id: 's', type: 'Signup', path: '/x', visitor: 'u:u1', ts: 5, received_at: 6 });
  });

  it('counts only pageviews as views', () => {
    expect(isPageview('pageview')).toBe(true);
    expect(isPageview('PageView')).toBe(true);
    expect(isPageview('click')).toBe(false);
  });
});

describe('event ids', () => {
  it('derives one id per site and client event_id, never shared between sites', () => {
    const c = '7d444840-9dc0-11d1-b245-5ffdce74fad2';
    expect(clientEventId('a', c)).toBe(clientEventId('a', c.toUpperCase()));
    expect(clientEventId('a', c)).not.toBe(clientEventId('b', c));
    expect(clientEventId('a', c)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

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
