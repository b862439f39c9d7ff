// Builds the dashboard (web/, a Next.js static export) into dist/web, part of `npm run build`.
// Skipped when the web sources and the lock file are unchanged since the last build (a hash in
// dist/web/.source-hash), so `npm start` stays quick; `--force` (or deleting dist/web) rebuilds.
// After the export it writes dist/web/csp.json (sha256 of every inline script per HTML page, for
// the Content-Security-Policy) and pre-compressed .gz/.br copies of the scripts and styles.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'web');
const out = path.join(web, 'out');
const dest = path.join(root, 'dist', 'web');
const stamp = path.join(dest, '.source-hash');
const force = process.argv.includes('--force');
const GENERATED = new Set(['out', '.next', 'next-env.d.ts', 'node_modules']);

function files(dir) {
  const list = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (GENERATED.has(entry.name)) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) list.push(...files(p));
    else list.push(p);
  }
  return list.sort();
}

function sourceHash() {
  const h = createHash('sha256');
  for (const f of [...files(web), path.join(root, 'package-lock.json'), fileURLToPath(import.meta.url)]) {
    h.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  }
  return h.digest('hex');
}

const hash = sourceHash();
if (!force && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === hash) {
  console.log('dashboard: web/ unchanged since the last build, skipping the Next.js build (npm run build:web -- --force rebuilds)');
  process.exit(0);
}

let nextBin;
try {
  nextBin = path.join(path.dirname(fileURLToPath(import.meta.resolve('next/package.json'))), 'dist', 'bin', 'next');
} catch {
  console.warn('dashboard: the `next` package is not installed (installed without dev dependencies?), so the dashboard is not built; the API works without it');
  process.exit(0);
}

console.log('dashboard: building web/ with Next.js (static export)…');
const started = Date.now();
const res = spawnSync(process.execPath, [nextBin, 'build', web], {
  stdio: 'inherit',
  env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' },
});
if (res.status !== 0) {
  console.error('dashboard: next build failed');
  process.exit(res.status ?? 1);
}

fs.rmSync(dest, { recursive: true, force: true });
fs.cpSync(out, dest, { recursive: true });

// Inline scripts of each page, hashed as the browser hashes them (the raw text between the tags).
const csp = {};
const inline = /<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g;
for (const name of fs.readdirSync(dest).filter((f) => f.endsWith('.html'))) {
  const html = fs.readFileSync(path.join(dest, name), 'utf8');
  const hashes = new Set();
  for (const m of html.matchAll(inline)) hashes.add(`sha256-${createHash('sha256').update(m[1], 'utf8').digest('base64')}`);
  csp[name] = [...hashes];
}
fs.writeFileSync(path.join(dest, 'csp.json'), JSON.stringify(csp, null, 2) + '\n');

// Served as they are by @fastify/static (preCompressed): no compression work per request.
const assets = path.join(dest, '_next');
const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
for (const f of walk(assets).filter((f) => /\.(js|css)$/.test(f))) {
  const body = fs.readFileSync(f);
  fs.writeFileSync(`${f}.gz`, zlib.gzipSync(body, { level: 9 }));
  fs.writeFileSync(`${f}.br`, zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
}

fs.writeFileSync(stamp, hash + '\n');
console.log(`dashboard: built into dist/web in ${((Date.now() - started) / 1000).toFixed(1)} s`);
