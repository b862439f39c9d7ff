// PLACEHOLDER until the enrich branch lands.
export interface Utm { utm_source: string | null; utm_medium: string | null; utm_campaign: string | null; utm_term: string | null; utm_content: string | null }
export function utmOf(url: URL | string | undefined): Utm {
  const out: Utm = { utm_source: null, utm_medium: null, utm_campaign: null, utm_term: null, utm_content: null };
  if (!url) return out;
  let u: URL;
  try { u = typeof url === 'string' ? new URL(url) : url; } catch { return out; }
  for (const k of Object.keys(out) as (keyof Utm)[]) { const v = u.searchParams.get(k)?.trim(); if (v) out[k] = v.slice(0, 256); }
  return out;
}
