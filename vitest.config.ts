import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests and services share one copy of each package (its source), so `instanceof` holds across them.
    alias: {
      '@relaycast/store': fileURLToPath(new URL('./packages/store/src/index.ts', import.meta.url)),
      '@relaycast/shared': fileURLToPath(new URL('./packages/shared/src/index.ts', import.meta.url)),
      '@relaycast/protocol': fileURLToPath(new URL('./packages/protocol/src/index.ts', import.meta.url)),
    },
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: a couple of files at a time keeps timing-sensitive suites honest.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'single', include: ['test/**/*.test.ts'], exclude: ['test/chaos/**', 'test/**/*.cluster.test.ts', 'test/**/*processes.test.ts', '**/node_modules/**'] },
      },
      {
        // Suites that run every service as an OS process (5-7 processes each) go after the others, so their
        // CPU use does not skew the timing-sensitive suites (proxy latency) on a 2-core machine.
        extends: true,
        test: { name: 'processes', include: ['test/**/*processes.test.ts'], sequence: { groupOrder: 1 } },
      },
      {
        // One behaviour suite, every backend: the core suite again, on a 3-master Redis Cluster.
        extends: true,
        test: { name: 'cluster', include: ['test/integration/core.test.ts', 'test/**/*.cluster.test.ts'], env: { TEST_REDIS: 'cluster' } },
      },
    ],
  },
});
