// The page of an event from its full URL. The path is kept as the browser's `location.pathname`
// gives it, percent-encoded (`/caf%C3%A9`): decoding is lossy (`%2F` and `/` would merge) and can
// produce invalid UTF-8, and the tracker sends exactly this form.
import { httpUrl, normaliseHost } from './host.js';

export interface PageOptions {
  /** The site routes by fragment (`/#/settings`): the fragment is part of the page. */
  hashRouting: boolean;
}

/**
 * The URL's path without its query string; with hash routing, followed by the fragment up to any
 * `?` inside it (`/#/settings?tab=2` → `/#/settings`). Without hash routing the fragment is dropped.
 * `null` when the URL is not an absolute http(s) URL.
 */
export function pagePath(url: string | URL, options: PageOptions): string | null {
  const u = httpUrl(url);
  if (u === null) return null;
  const path = u.pathname || '/';
  if (!options.hashRouting || u.hash.length <= 1) return path;
  const q = u.hash.indexOf('?');
  const fragment = q < 0 ? u.hash : u.hash.slice(0, q);
  return fragment.length > 1 ? path + fragment : path;
}

/** The URL's host name, lower case, without a port or a leading "www."; `null` when not an http(s) URL. */
export function pageHost(url: string | URL): string | null {
  const u = httpUrl(url);
  return u === null ? null : normaliseHost(u.hostname);
}
