// The board's HTML as this server sends it. bull-board's page links a Google Fonts stylesheet and
// its UI sends no CSRF header; here the page loads nothing from another host (the fonts fall back
// to the system's), gets a Content-Security-Policy of its own, and loads csrf-header.js first,
// which adds the dashboard's x-requested-with header to the board's same-origin requests.
import { createHash } from 'node:crypto';

export const CSRF_SCRIPT = 'csrf-header.js';

/** Runs before the board's (deferred) scripts; XMLHttpRequest is what its HTTP client uses, fetch for the rest. */
export const CSRF_SCRIPT_SOURCE = `(function () {
  var name = 'x-requested-with', value = 'bull-board';
  function same(url) { try { return new URL(url, location.href).origin === location.origin; } catch (e) { return false; } }
  var open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) { this.__waSameOrigin = same(url); return open.apply(this, arguments); };
  XMLHttpRequest.prototype.send = function () { if (this.__waSameOrigin) this.setRequestHeader(name, value); return send.apply(this, arguments); };
  var fetch0 = window.fetch;
  window.fetch = function (input, init) {
    var request = new Request(input, init);
    if (same(request.url)) request.headers.set(name, value);
    return fetch0.call(this, request);
  };
})();
`;

/**
 * <style> elements the board's scripts render (the inline SVG of the Redis logo in
 * @bull-board/ui 9.10.1). Pinned with the package: the browser test fails on a CSP violation if
 * another version renders other ones.
 */
const RUNTIME_STYLE_HASHES = ["'sha256-r2N1TB/gHbBtBZFKg7ejmq1acVSREzucTAEw6ga4hoU='"];

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The board page without external stylesheets, with the CSRF script first in <head>. */
export function rewriteBoardHtml(html: string): string {
  return html
    .replace(/<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>\s*/gi, '')
    .replace(/<\/head>/i, `<script src="${CSRF_SCRIPT}"></script></head>`);
}

/**
 * Scripts only from this server; the page's few inline styles (its loading placeholder, the logo's
 * <style>) allowed by their hashes, never 'unsafe-inline'. `<base href>` is the board's own path, so base-uri is 'self'.
 */
export function boardCsp(html: string | undefined): string {
  const styles = new Set<string>(RUNTIME_STYLE_HASHES);
  if (html) {
    for (const m of html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)) styles.add(sha256(m[1]!));
    for (const m of html.matchAll(/\sstyle="([^"]*)"/gi)) styles.add(sha256(m[1]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')));
  }
  const hashes = [...styles].join(' ');
  // 'unsafe-hashes' lets the hashed style="" attributes of the loading placeholder apply, nothing else.
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src 'self' 'unsafe-hashes' ${hashes}`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
