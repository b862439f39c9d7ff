// The "storable text" rule: what a string must be for every store to keep it exactly as sent.
// A 2xx is only given to an event every store can keep, so every string field of a request body
// (events, sites, and any field added later) goes through this one rule.
//
// What the stores cannot keep:
//  - U+0000 (NUL): PostgreSQL `text` refuses it ("invalid byte sequence for encoding UTF8: 0x00"),
//    and C-string APIs truncate at it.
//  - A lone UTF-16 surrogate (U+D800–U+DFFF without its pair): ill-formed Unicode, with no UTF-8
//    encoding. The drivers of SQLite, PostgreSQL and MongoDB (BSON) all write UTF-8, so it becomes
//    U+FFFD on the way in and does not read back as it was written (a visitor lookup then fails).
// Every other Unicode scalar value, noncharacters and control characters included, is valid UTF-8
// and stored as is by all three, so it is not refused here.

const NUL = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const hex = (s: string) => `U+${s.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/** Why no store can keep `value` exactly, or undefined when every store can. */
export function unstorableReason(value: string): string | undefined {
  let m = NUL.exec(value);
  if (m) return `must not contain a NUL character (U+0000, at position ${m.index})`;
  m = LONE_SURROGATE.exec(value);
  if (m) return `must be well-formed Unicode: it holds an unpaired surrogate (${hex(m[0])}, at position ${m.index})`;
  return undefined;
}

export function isStorableText(value: string): boolean {
  return unstorableReason(value) === undefined;
}

/**
 * A zod refinement for a string field: `z.string().refine(...storableText('path'))`. The issue's
 * message names the field ("path must not contain a NUL character …"). A refine, not a
 * superRefine: zod's superRefine builds a closure for every value it checks, and the worker checks
 * every string of every queued event (~1 KB of garbage per event).
 */
export function storableText(field: string) {
  return [isStorableText, { error: (issue: { input?: unknown }) => `${field} ${unstorableReason(String(issue.input))}` }] as const;
}

/** Makes a value from a rejected event safe to store and print: unstorable code units as \uXXXX. */
export function escapeUnstorable(value: string): string {
  return value.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The first `max` UTF-16 code units of `value`, never cutting a surrogate pair in two. */
export function truncateText(value: string, max: number): string {
  if (value.length <= max) return value;
  const end = /[\uD800-\uDBFF]/.test(value[max - 1]!) ? max - 1 : max;
  return value.slice(0, end);
}
