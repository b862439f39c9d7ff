// Exact answers over many buckets (the last 24 hours, date ranges) without re-reading every rollup
// row each time: each bucket's visitor ids and path views are kept in memory as compact arrays,
// checked against the bucket's counters on every use. Rollups only ever grow, so a snapshot whose
// visitor count (or view total) still equals the bucket's counter is the bucket's exact content.

export interface VisitorSnapshot {
  count: number;
  ids: Uint32Array; // sorted
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

/**
 * Distinct ids across id arrays (each sorted): a bitmap made of 65,536-bit chunks, allocated only
 * where ids fall, so the cost follows the number of ids, not their spread.
 */
export function unionCount(sets: Uint32Array[]): number {
  const chunks = new Map<number, Uint32Array>();
  let count = 0;
  for (const s of sets) {
    let hi = -1;
    let chunk: Uint32Array | undefined;
    for (let i = 0; i < s.length; i++) {
      const id = s[i]!;
      if (id >>> 16 !== hi) {
        hi = id >>> 16;
        chunk = chunks.get(hi);
        if (!chunk) chunks.set(hi, (chunk = new Uint32Array(2048)));
      }
      const lo = id & 0xffff;
      const mask = 1 << (lo & 31);
      if ((chunk![lo >>> 5]! & mask) === 0) {
        chunk![lo >>> 5] = chunk![lo >>> 5]! | mask;
        count++;
      }
    }
  }
  return count;
}

/** Sorts a snapshot's (id, count) pairs by id, for chunk-local sums. */
export function pathSnapshot(ids: Uint32Array, counts: Uint32Array): PathSnapshot {
  const order = Array.from(ids.keys()).sort((a, b) => ids[a]! - ids[b]!);
  const sortedIds = new Uint32Array(order.length);
  const sortedCounts = new Uint32Array(order.length);
  let views = 0;
  order.forEach((from, to) => {
    sortedIds[to] = ids[from]!;
    sortedCounts[to] = counts[from]!;
    views += counts[from]!;
  });
  return { views, ids: sortedIds, counts: sortedCounts };
}

/**
 * The paths that can be in the top `limit` once ties are broken by path name — every path whose
 * views over the snapshots reach the `limit`-th highest sum — with their sums.
 */
export function topCandidates(snapshots: PathSnapshot[], limit: number): [number, number][] {
  const chunks = new Map<number, Uint32Array>();
  for (const s of snapshots) {
    let hi = -1;
    let chunk: Uint32Array | undefined;
    for (let i = 0; i < s.ids.length; i++) {
      const id = s.ids[i]!;
      if (id >>> 16 !== hi) {
        hi = id >>> 16;
        chunk = chunks.get(hi);
        if (!chunk) chunks.set(hi, (chunk = new Uint32Array(65536)));
      }
      chunk![id & 0xffff] = chunk![id & 0xffff]! + s.counts[i]!;
    }
  }
  const all: [number, number][] = [];
  for (const [hi, chunk] of chunks) {
    for (let lo = 0; lo < 65536; lo++) if (chunk[lo]) all.push([hi * 65536 + lo, chunk[lo]!]);
  }
  all.sort((a, b) => b[1] - a[1]);
  if (all.length <= limit) return all;
  const threshold = all[limit - 1]![1];
  let end = limit;
  while (end < all.length && all[end]![1] === threshold) end++;
  return all.slice(0, end);
}
