// Reaching the real services the tests need. In CI (CI=true) an unreachable service fails the
// test loudly; elsewhere the suite is skipped with a printed reason.
import { canConnect } from './wait.js';

export { canConnect };

export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether a suite that needs `url` can run. Throws in CI when the service is down; prints the
 * reason and returns false elsewhere.
 */
export async function serviceAvailable(name: string, url: string): Promise<boolean> {
  if (await canConnect(url)) return true;
  const reason = `${name} not reachable at ${url}`;
  if (IN_CI) throw new Error(`${reason} (CI=true: the service must run)`);
  console.warn(`skipped: ${reason}`);
  return false;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
}
