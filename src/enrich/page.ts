// PLACEHOLDER until the enrich branch lands.
export function pagePath(url: string, opts: { hashRouting: boolean }): string | null {
  try {
    const u = new URL(url);
    return u.pathname + (opts.hashRouting && u.hash ? u.hash : '');
  } catch {
    return null;
  }
}
export function pageHost(url: string): string | null {
  try { return new URL(url).hostname.toLowerCase(); } catch { return null; }
}
