// PLACEHOLDER until the enrich branch lands.
export function referrerHost(referrer: string | undefined, pageHost: string | undefined): string | null {
  if (!referrer) return null;
  try {
    const u = new URL(referrer);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    const h = u.hostname.toLowerCase().replace(/^www\./, '');
    return pageHost && h === pageHost.toLowerCase().replace(/^www\./, '') ? null : h;
  } catch {
    return null;
  }
}
export function sourceOf(host: string | null, utmSource: string | null): string | null {
  if (utmSource) return utmSource;
  if (!host) return null;
  if (/(^|\.)google\./.test(host)) return 'Google';
  return host;
}
