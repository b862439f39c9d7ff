// How a set-aside event is kept, the same in every store. The event is kept as JSON text:
// JSON.stringify writes NUL and lone surrogates as \u escapes, so the very values that made an
// event unstorable are stored exactly. Its key is a hash of that text, so rejecting the same event
// again (a retried job) keeps it once.
import { createHash } from 'node:crypto';
import { escapeUnstorable } from '../core/text.js';
import type { RejectedEvent } from './port.js';

export interface RejectedRow {
  rejection_key: string;
  site_id: string;
  event_id: string | null;
  event_json: string;
  error: string;
  rejected_at_ms: number;
}

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s);

export function toRejectedRow(r: RejectedEvent): RejectedRow {
  const event_json = JSON.stringify(r.event) ?? 'null';
  const id = (r.event as { id?: unknown } | null)?.id;
  return {
    rejection_key: createHash('sha256').update(event_json).digest('hex'),
    site_id: clip(escapeUnstorable(r.site_id), 200),
    event_id: typeof id === 'string' ? clip(escapeUnstorable(id), 200) : null,
    event_json,
    error: clip(escapeUnstorable(r.reason), 2000),
    rejected_at_ms: r.rejected_at,
  };
}
