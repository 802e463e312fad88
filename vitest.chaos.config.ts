import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `npm run test:chaos`: the long fault scenarios under test/chaos (the soak, takeovers with the production
 * lock settings, Redis outages longer than the job lock). `npm test` leaves them out; `.ci/run` runs them after it with a shorter soak.
 */
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['test/chaos/**/*.test.ts'],
    // The soak sets its own timeout from SOAK_MINUTES.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
