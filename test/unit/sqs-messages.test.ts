import { describe, expect, it } from 'vitest';
import { byteLength, encodeJobMessages, MessageTooLargeError, packBatches, sqsSafeJson } from '../../src/queue/sqs-messages.js';

const event = (n: number, size: number) => ({ id: `e${n}`, path: '/'.padEnd(size, 'p') });

describe('SQS message bodies', () => {
  it('keeps a payload that fits as one message, byte for byte its JSON', () => {
    const payload = { events: [event(1, 10), event(2, 10)] };
    expect(encodeJobMessages(payload, 1000)).toEqual([JSON.stringify(payload)]);
  });

  it('splits the events of a large payload over messages that each fit, keeping the other fields', () => {
    const payload = { v: 2, events: Array.from({ length: 100 }, (_, i) => event(i, 50 + (i % 7) * 30)) };
    for (const max of [300, 1000, 4096]) {
      const bodies = encodeJobMessages(payload, max);
      expect(bodies.length).toBeGreaterThan(1);
      for (const b of bodies) expect(byteLength(b)).toBeLessThanOrEqual(max);
      const parts = bodies.map((b) => JSON.parse(b));
      for (const p of parts) expect(p.v).toBe(2);
      expect(parts.flatMap((p) => p.events)).toEqual(payload.events);
      // Greedy: a part plus the next event would not have fitted.
      parts.slice(0, -1).forEach((p, i) => {
        const withNext = JSON.stringify({ v: 2, events: [...p.events, parts[i + 1].events[0]] });
        expect(byteLength(withNext)).toBeGreaterThan(max);
      });
    }
  });

  it('counts bytes, not characters', () => {
    const payload = { events: Array.from({ length: 40 }, (_, i) => ({ id: i, path: 'é'.repeat(20) })) };
    for (const b of encodeJobMessages(payload, 500)) expect(byteLength(b)).toBeLessThanOrEqual(500);
  });

  it('refuses an event that alone exceeds the limit', () => {
    expect(() => encodeJobMessages({ events: [event(1, 10), event(2, 5000)] }, 1000)).toThrow(MessageTooLargeError);
  });

  it('escapes characters SQS refuses, and parses back to the same value', () => {
    const value = { s: 'a\uffff\ufffe😀\u0001\ud800z\t' };
    const json = sqsSafeJson(value);
    expect(json).toMatch(/^[\x20-\ud7ff\ue000-\ufffd]*$/);
    expect(JSON.parse(json)).toEqual(value);
  });

  it('packs messages into batch requests of at most 10 entries and the byte limit', () => {
    const sizes = [100, 100, 900, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 1000];
    const batches = packBatches(sizes, (n) => n, 10, 1000);
    expect(batches.flat()).toEqual(sizes);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(10);
      expect(b.reduce((a, n) => a + n, 0)).toBeLessThanOrEqual(1000);
    }
    expect(batches).toEqual([[100, 100], [900, 50, 50], [50, 50, 50, 50, 50, 50, 50, 50], [1000]]);
  });
});
