import { describe, expect, it } from 'vitest';
import { SnapshotCache, pathSnapshot, topCandidates, unionCount } from '../../src/store/sql/snapshots.js';

const ids = (...xs: number[]) => Uint32Array.from(xs).sort();

describe('range snapshots', () => {
  it('counts distinct ids across sets, chunks and far-apart ids', () => {
    expect(unionCount([])).toBe(0);
    expect(unionCount([ids(1, 2, 3), ids(3, 4), ids()])).toBe(4);
    expect(unionCount([ids(0, 65535, 65536, 4_294_967_295), ids(65536, 300_000_000)])).toBe(5);
    const a = Uint32Array.from({ length: 100_000 }, (_, i) => i * 3);
    const b = Uint32Array.from({ length: 100_000 }, (_, i) => i * 2);
    // multiples of 2 or 3 below 300,000 (a) ∪ below 200,000 (b): |a| + |b| - |multiples of 6 below 200,000|
    expect(unionCount([a, b])).toBe(100_000 + 100_000 - Math.ceil(200_000 / 6));
  });

  it('sums path views and keeps every path tied at the cut', () => {
    const s1 = pathSnapshot(Uint32Array.from([70_000, 5, 9]), Uint32Array.from([1, 10, 4]));
    const s2 = pathSnapshot(Uint32Array.from([9, 12, 70_000]), Uint32Array.from([6, 3, 2]));
    expect(s1.views).toBe(15);
    expect(topCandidates([s1, s2], 2)).toEqual([
      [5, 10],
      [9, 10],
    ]);
    const s3 = pathSnapshot(Uint32Array.from([1, 2, 3, 4]), Uint32Array.from([5, 2, 2, 2]));
    expect(topCandidates([s3], 2).map(([id]) => id)).toEqual([1, 2, 3, 4]);
    expect(topCandidates([], 10)).toEqual([]);
  });

  it('bounds the cache by bytes, dropping the least recently used', () => {
    const cache = new SnapshotCache(10_000);
    const entry = (n: number) => ({ kind: 'visitors' as const, value: { count: n, ids: new Uint32Array(n) } });
    cache.set('a', entry(1000));
    cache.set('b', entry(1000));
    cache.get('a');
    cache.set('c', entry(1000)); // 3 × 4 KB > 10 KB: b, the least recently used, goes
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
  });
});
