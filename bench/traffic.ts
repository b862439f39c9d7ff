// Tracker-like traffic for the bench: events as the API queues them (visitor hash and country
// already resolved, the browser's user agent, referrer, UTM tags, screen width, language), every
// dimension filled, in visits of several page views, in time order as live traffic arrives.
// Streaming (a pool of open visits, not a list of a million events) and seeded, so runs compare.
import { newEventId, type QueuedEvent } from '../src/core/event.js';
import { BROWSERS } from '../test/helpers/enrich-table.js';

export interface TrafficShape {
  siteId: string;
  events: number;
  /** Distinct visitors, referrer hosts, paths and countries the events are drawn from. */
  visitors: number;
  paths: number;
  referrers: number;
  countries: number;
  /** The events' times run evenly over [from, to). */
  from: number;
  to: number;
  /** When the API received them (defaults to `to`). */
  receivedAt?: number;
  seed?: number;
}

const LANGUAGES = ['en-US', 'de-DE', 'fr-FR', 'en-GB', 'es-ES', 'pt-BR', 'ja-JP', 'it-IT', 'nl-NL', 'pl-PL', 'hi-IN', 'zh-CN'];
const WIDTHS = [375, 390, 414, 768, 820, 1280, 1366, 1440, 1536, 1920, 2560];
const SEARCH = ['https://www.google.com/', 'https://www.bing.com/search?q=analytics', 'https://duckduckgo.com/', 'https://news.ycombinator.com/item?id=1', 'https://www.reddit.com/r/selfhosted/', 'https://t.co/abc', 'https://github.com/'];
const CAMPAIGNS = ['launch', 'newsletter-12', 'black-friday', 'retargeting'];
/** Concurrent open visits: with a day of a million events, ~40 s between a visit's page views. */
const OPEN_VISITS = 500;

/** Mulberry32: a small seeded PRNG, so two runs draw the same traffic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf-like skew: low indexes are popular, every index can appear. */
export const skewed = (n: number, r: number) => Math.min(n - 1, Math.floor(n * r * r * r));

/** `n` real ISO 3166 region codes (those Intl can name), in a fixed order. */
export function countryCodes(n: number): string[] {
  const names = new Intl.DisplayNames(['en'], { type: 'region' });
  const out: string[] = [];
  for (let a = 65; a <= 90 && out.length < n; a++) {
    for (let b = 65; b <= 90 && out.length < n; b++) {
      const code = String.fromCharCode(a, b);
      const name = names.of(code);
      if (name && name !== code && !/Unknown/.test(name)) out.push(code);
    }
  }
  return out;
}

interface OpenVisit {
  visitor: string;
  left: number;
  first: boolean;
  referrer?: string;
  utm?: { utm_source: string; utm_medium: string; utm_campaign: string };
  ua: string;
  language: string;
  width: number;
  country: string;
}

/** The events of `shape`, in time order (ids are UUIDv7 of the event time's order). */
export function* trackerTraffic(shape: TrafficShape): Generator<QueuedEvent> {
  const rand = prng(shape.seed ?? 1);
  const countries = countryCodes(shape.countries);
  const referrers = Array.from({ length: shape.referrers }, (_, k) => (k < SEARCH.length ? SEARCH[k]! : `https://blog${k}.example.net/post/${k % 97}`));
  const pick = <T>(list: readonly T[], skew = false) => list[skew ? skewed(list.length, rand()) : Math.floor(rand() * list.length)]!;
  const open = (): OpenVisit => {
    const v = Math.floor(rand() * shape.visitors);
    // A visitor keeps its browser, language and country; where it comes from varies per visit.
    const r = rand();
    return {
      visitor: `h:bench-visitor-${v}`,
      left: 1 + Math.floor(rand() * rand() * 12),
      first: true,
      referrer: r < 0.45 ? pick(referrers, true) : undefined,
      utm: r > 0.9 ? { utm_source: 'newsletter', utm_medium: 'email', utm_campaign: pick(CAMPAIGNS) } : undefined,
      ua: BROWSERS[v % BROWSERS.length]!.ua,
      language: LANGUAGES[v % LANGUAGES.length]!,
      width: WIDTHS[v % WIDTHS.length]!,
      // A fixed, well-spread draw per visitor (Knuth's multiplicative hash), skewed to a few big countries.
      country: countries[skewed(countries.length, (Math.imul(v + 1, 2654435761) >>> 0) / 4294967296)]!,
    };
  };
  const pool = Array.from({ length: Math.min(OPEN_VISITS, Math.max(1, Math.floor(shape.events / 10))) }, open);
  const span = shape.to - shape.from;
  const receivedAt = shape.receivedAt ?? shape.to;
  for (let i = 0; i < shape.events; i++) {
    const slot = Math.floor(rand() * pool.length);
    const visit = pool[slot]!;
    const ts = shape.from + Math.floor((i / shape.events) * span);
    // One event in twenty is a custom event with properties; the rest are page views.
    const custom = !visit.first && rand() < 0.05;
    yield {
      id: newEventId(),
      site_id: shape.siteId,
      type: custom ? 'signup' : 'pageview',
      path: `/page/${skewed(shape.paths, rand())}`,
      visitor: visit.visitor,
      host: 'bench.example.com',
      ...(visit.first && visit.referrer ? { referrer: visit.referrer } : {}),
      ...(visit.first && visit.utm ? visit.utm : {}),
      screen_width: visit.width,
      language: visit.language,
      country: visit.country,
      ua: visit.ua,
      ...(custom ? { props: { plan: pick(['free', 'pro', 'team']), trial: rand() < 0.5 } } : {}),
      ts,
      received_at: Math.max(ts, receivedAt),
    };
    visit.first = false;
    if (--visit.left === 0) pool[slot] = open();
  }
}
