// The worker's enrichment: what an event's dimensions are, derived from what the API queued.
// These steps need neither the IP nor the request, so they run in the worker, off the ingestion
// path (the API ran the ones that need the IP: visitor hash and country).
import { parseUserAgent } from '../enrich/user-agent.js';
import { referrerHost, sourceOf } from '../enrich/referrer.js';
import { screenClass } from '../enrich/screen.js';
import { isPageview, type IgnoreReason, type QueuedEvent } from './event.js';
import { userIdOf } from './visitor.js';

export interface DerivedEvent {
  id: string;
  site_id: string;
  type: string;
  is_pageview: boolean;
  path: string;
  /** Encoded visitor (core/visitor.ts); empty for ignored events. */
  visitor: string;
  user_id: string | null;
  ts: number;
  received_at: number;
  props: Record<string, string | number | boolean> | undefined;
  ignored: IgnoreReason | undefined;
  source: string | null;
  referrer: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_term: string | null;
  utm_content: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
  country: string | null;
  language: string | null;
  screen: string | null;
}

export function deriveEvent(e: QueuedEvent): DerivedEvent {
  const client = e.ua ? parseUserAgent(e.ua) : undefined;
  const referrer = referrerHost(e.referrer, e.host);
  const utmSource = e.utm_source ?? null;
  return {
    id: e.id,
    site_id: e.site_id,
    type: e.type,
    is_pageview: isPageview(e.type),
    path: e.path,
    visitor: e.visitor ?? '',
    user_id: e.visitor ? userIdOf(e.visitor) : null,
    ts: e.ts,
    received_at: e.received_at,
    props: e.props,
    ignored: e.ignored,
    source: sourceOf(referrer, utmSource),
    referrer,
    utm_source: utmSource,
    utm_medium: e.utm_medium ?? null,
    utm_campaign: e.utm_campaign ?? null,
    utm_term: e.utm_term ?? null,
    utm_content: e.utm_content ?? null,
    browser: client?.browser || null,
    os: client?.os || null,
    device: client?.device || null,
    country: e.country ?? null,
    language: e.language ?? null,
    screen: screenClass(e.screen_width),
  };
}
