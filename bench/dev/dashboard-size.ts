// The JavaScript a first visit of each dashboard page loads, gzipped (target: < 250 KB).
// Reads the built export (dist/web, `npm run build`): every <script src> and script preload of the
// page (not the `nomodule` legacy polyfill, which current browsers skip) plus its inline scripts.
// Usage: npx tsx bench/dev/dashboard-size.ts [--json]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export const DASHBOARD_JS_LIMIT = 250 * 1024;

export interface PageSize {
  page: string;
  files: number;
  rawBytes: number;
  gzipBytes: number;
}

export function dashboardSizes(dir = path.resolve(import.meta.dirname, '../../dist/web')): PageSize[] {
  const pages = ['index.html', 'site.html', 'share.html'];
  return pages.map((page) => {
    const html = fs.readFileSync(path.join(dir, page), 'utf8');
    const srcs = new Set<string>();
    for (const m of html.matchAll(/<script\b([^>]*)>/g)) {
      const attrs = m[1]!;
      const src = /\ssrc="([^"]+)"/.exec(attrs)?.[1];
      if (src && !/\snomodule/i.test(attrs)) srcs.add(src);
    }
    for (const m of html.matchAll(/<link\b[^>]*rel="preload"[^>]*as="script"[^>]*>/g)) {
      const href = /href="([^"]+)"/.exec(m[0])?.[1];
      if (href) srcs.add(href);
    }
    let raw = 0;
    let gz = 0;
    for (const src of srcs) {
      const body = fs.readFileSync(path.join(dir, src.replace(/^\//, '')));
      raw += body.length;
      gz += zlib.gzipSync(body, { level: 9 }).length;
    }
    for (const m of html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g)) {
      raw += Buffer.byteLength(m[1]!);
      gz += zlib.gzipSync(m[1]!, { level: 9 }).length;
    }
    return { page, files: srcs.size, rawBytes: raw, gzipBytes: gz };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = dashboardSizes();
  if (process.argv.includes('--json')) console.log(JSON.stringify(sizes));
  else {
    for (const s of sizes) {
      console.log(`${s.page.padEnd(12)} ${s.files} scripts, ${(s.rawBytes / 1024).toFixed(1)} KB raw, ${(s.gzipBytes / 1024).toFixed(1)} KB gzipped`);
    }
    const max = Math.max(...sizes.map((s) => s.gzipBytes));
    console.log(`largest first visit: ${(max / 1024).toFixed(1)} KB gzipped (limit ${DASHBOARD_JS_LIMIT / 1024} KB) ${max < DASHBOARD_JS_LIMIT ? 'OK' : 'OVER'}`);
  }
}
