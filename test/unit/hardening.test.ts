import { describe, expect, it } from 'vitest';
import { fdBudget, readFdLimits } from '../../services/edge/src/fd-budget.js';
import { negotiateEncoding } from '../../services/edge/src/status-body.js';

const limits = (soft: string, hard: string) => () => `Limit                     Soft Limit           Hard Limit           Units\nMax processes             127431               127431               processes\nMax open files            ${soft}                ${hard}                files\n`;

describe('fd budget', () => {
  it('reads the soft and hard open-file limits from /proc/self/limits text', () => {
    expect(readFdLimits(limits('1024', '524288'))).toEqual({ soft: 1024, hard: 524288 });
    expect(readFdLimits(limits('unlimited', 'unlimited'))?.soft).toBe(Number.MAX_SAFE_INTEGER);
    expect(readFdLimits(() => 'nothing here')).toBeUndefined();
    expect(readFdLimits(() => { throw new Error('ENOENT'); })).toBeUndefined();
  });

  it('keeps 64 fds for the process and 5% (at least 64) of the sockets free of streams', () => {
    expect(fdBudget(20_000, { soft: 20_000, hard: 20_000 })).toMatchObject({ maxSockets: 19_936, maxStreams: 18_939 });
    expect(fdBudget(20_000, { soft: 400, hard: 400 })).toMatchObject({ maxSockets: 336, maxStreams: 272 });
    expect(fdBudget(100, { soft: 1_048_576, hard: 1_048_576 }).maxStreams).toBe(100);
    expect(fdBudget(20_000, { soft: 100, hard: 100 })).toMatchObject({ maxSockets: 36, maxStreams: 18 });
    // Unknown limit (not Linux): nothing is lowered.
    expect(fdBudget(500, undefined)).toEqual({ maxSockets: 564, maxStreams: 500 });
  });
});

describe('Accept-Encoding negotiation', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip, deflate, br', 'br'],
    ['gzip', 'gzip'],
    ['x-gzip', 'gzip'],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['BR;Q=1', 'br'],
    ['*', 'br'],
    ['*;q=0, gzip', 'gzip'],
    ['br;q=0, gzip;q=0', 'identity'],
    ['identity', 'identity'],
    ['deflate', 'identity'],
    ['gzip;q=abc', 'identity'],
  ] as const)('%s → %s', (header, want) => {
    expect(negotiateEncoding(header)).toBe(want);
  });
});
