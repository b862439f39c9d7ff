// `npm run dev` runs the TypeScript sources through tsx: its embedded worker thread must start too.
import { expect, it } from 'vitest';
import { spawnNode } from './helpers/system.js';
import { tempDir } from './helpers/stores.js';

it('starts the API and its worker thread from the TypeScript sources (npm run dev)', async () => {
  const proc = spawnNode('src/main.ts', { NODE_OPTIONS: '--import tsx', DATA_DIR: tempDir('analytics-dev-'), PORT: '0', HOST: '127.0.0.1' }, 'dev');
  try {
    await proc.waitForLine(/API listening on http/, 30_000);
    await proc.waitForLine(/Worker started: embedded queue/, 30_000);
  } finally {
    expect(await proc.stop()).toBe(0);
  }
});
