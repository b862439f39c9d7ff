import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: process-spawning suites run two at a time.
    maxWorkers: 2,
    reporters: ['default'],
    // An AWS SDK client in a test that lacks credentials must fail, never ask an instance metadata service.
    env: { AWS_EC2_METADATA_DISABLED: 'true' },
  },
});
