// The tracker's size bound: at most 1,024 bytes gzipped (level 9), built fresh from tracker/script.ts
// and as `npm run build` left it in dist/ (what the API serves).
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { buildTracker, TRACKER_OUTPUT } from '../tracker/build.mjs';
import { IN_CI } from './helpers/services.js';
import { tempDir } from './helpers/stores.js';

const LIMIT = 1024;

it('builds the tracker to at most 1,024 bytes gzipped', async () => {
  const dir = tempDir('analytics-tracker-');
  try {
    const { code, gzipBytes } = await buildTracker(path.join(dir, 'script.js'));
    console.log(`tracker script: ${Buffer.byteLength(code)} bytes minified, ${gzipBytes} bytes gzipped (limit ${LIMIT})`);
    expect(gzipBytes).toBe(gzipSync(code, { level: 9 }).length);
    expect(gzipBytes).toBeLessThanOrEqual(LIMIT);
    // Minified: one line, none of the source's comments or names shipped.
    expect(code.trim().split('\n')).toHaveLength(1);
    expect(code).not.toContain('site owner');
    expect(code).not.toContain('endpoint');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('serves a current build: dist/tracker/script.js is what the source builds to', async () => {
  if (!fs.existsSync(TRACKER_OUTPUT)) {
    if (IN_CI) throw new Error(`${TRACKER_OUTPUT} is missing: npm test builds it (npm run build)`);
    console.warn('skipped: dist/tracker/script.js not built (npm run build)');
    return;
  }
  const dir = tempDir('analytics-tracker-');
  try {
    const { code } = await buildTracker(path.join(dir, 'script.js'));
    const served = fs.readFileSync(TRACKER_OUTPUT, 'utf8');
    expect(served).toBe(code);
    expect(gzipSync(served, { level: 9 }).length).toBeLessThanOrEqual(LIMIT);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
