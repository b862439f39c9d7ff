// Builds the tracker (tracker/script.ts) into one minified file, dist/tracker/script.js, and prints
// its gzipped size. Run by `npm run build`; the API serves the result as /script.js.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(import.meta.dirname, '..');
export const TRACKER_SOURCE = path.join(ROOT, 'tracker/script.ts');
export const TRACKER_OUTPUT = path.join(ROOT, 'dist/tracker/script.js');

/** Builds the tracker to `outfile` and returns its text and gzipped size (level 9). */
export async function buildTracker(outfile = TRACKER_OUTPUT) {
  await build({
    entryPoints: [TRACKER_SOURCE],
    outfile,
    // The source is one self-contained function expression: no bundling, no extra wrapper.
    minify: true,
    // Browsers of the last years: optional chaining and arrow functions stay as written.
    target: ['es2020'],
    legalComments: 'none',
    logLevel: 'warning',
  });
  const code = fs.readFileSync(outfile, 'utf8');
  return { code, gzipBytes: gzipSync(code, { level: 9 }).length };
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  const { code, gzipBytes } = await buildTracker();
  console.log(`tracker: ${path.relative(process.cwd(), TRACKER_OUTPUT)}, ${Buffer.byteLength(code)} bytes, ${gzipBytes} bytes gzipped`);
}
