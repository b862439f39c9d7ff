// Exact answers over many buckets (the last 24 hours, date ranges) without re-reading every rollup
// row each time: each bucket's visitor ids and path views are kept in memory as compact arrays,
// checked against the bucket's counters on every use. Rollups only ever grow, so a snapshot whose
// visitor count (or view total) still equals the bucket's counter is the bucket's exact content.

export interface VisitorSnapshot {
  count: number;
  ids: Uint32Array;
}

export interface PathSnapshot {
  views: number;
  ids: Uint32Array;
  counts: Uint32Array;
}

type Entry = { kind: 'visitors'; value: VisitorSnapshot } | { kind: 'paths'; value: PathSnapshot };

const bytes = (e: Entry) => (e.kind === 'visitors' ? e.value.ids.byteLength : e.value.ids.byteLength * 2) + 64;

/** A byte-bounded LRU of snapshots (Map iteration order is insertion order). */
export class SnapshotCache {
  private entries = new Map<string, Entry>();
  private size = 0;

  constructor(private maxBytes: number) {}

  get(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  set(key: string, entry: Entry): void {
    const old = this.entries.get(key);
    if (old) {
      this.size -= bytes(old);
      this.entries.delete(key);
    }
    this.entries.set(key, entry);
    this.size += bytes(entry);
    for (const [k, e] of this.entries) {
      if (this.size <= this.maxBytes || this.entries.size === 1) break;
      this.entries.delete(k);
      this.size -= bytes(e);
    }
  }
}

/** Distinct ids across id arrays: a bitset over their span, or a Set when the span is huge. */
export function unionCount(sets: Uint32Array[]): number {
  let min = Infinity;
  let max = -1;
  let total = 0;
  for (const s of sets) {
    for (let i = 0; i < s.length; i++) {
      if (s[i]! < min) min = s[i]!;
      if (s[i]! > max) max = s[i]!;
    }
    total += s.length;
  }
  if (total === 0) return 0;
  const span = max - min + 1;
  if (span > 1 << 28) {
    const seen = new Set<number>();
    for (const s of sets) for (const id of s) seen.add(id);
    return seen.size;
  }
  const bits = new Uint32Array(Math.ceil(span / 32));
  let count = 0;
  for (const s of sets) {
    for (let i = 0; i < s.length; i++) {
      const o = s[i]! - min;
      const word = o >>> 5;
      const mask = 1 << (o & 31);
      if ((bits[word]! & mask) === 0) {
        bits[word] = bits[word]! | mask;
        count++;
      }
    }
  }
  return count;
}

/** Views per path summed over snapshots. */
export function sumPathViews(snapshots: PathSnapshot[]): Map<number, number> {
  const sums = new Map<number, number>();
  for (const s of snapshots) {
    for (let i = 0; i < s.ids.length; i++) sums.set(s.ids[i]!, (sums.get(s.ids[i]!) ?? 0) + s.counts[i]!);
  }
  return sums;
}

/**
 * The ids that can be in the top `limit` once ties are broken by path name: every id whose views
 * reach the `limit`-th highest value.
 */
export function topCandidates(sums: Map<number, number>, limit: number): [number, number][] {
  const all = [...sums.entries()].sort((a, b) => b[1] - a[1]);
  if (all.length <= limit) return all;
  const threshold = all[limit - 1]![1];
  let end = limit;
  while (end < all.length && all[end]![1] === threshold) end++;
  return all.slice(0, end);
}
