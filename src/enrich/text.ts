// Bounding text taken from a client.

/** Trimmed, `null` when empty, cut to `max` UTF-16 units without splitting a surrogate pair. */
export function boundedText(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined) return null;
  let s = value.trim();
  if (s === '') return null;
  if (s.length > max) {
    const last = s.charCodeAt(max - 1);
    s = s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max).trimEnd();
  }
  return s === '' ? null : s;
}
