// Host names as the enrichment shows them: lower case, no trailing dot, no leading "www.".

export function normaliseHost(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.startsWith('www.')) h = h.slice(4);
  return h;
}

/** The URL's host if it is an absolute http(s) URL with one, else null. */
export function httpUrl(value: string | URL): URL | null {
  let url: URL;
  if (value instanceof URL) url = value;
  else {
    try {
      url = new URL(value);
    } catch {
      return null;
    }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.hostname === '') return null;
  return url;
}
