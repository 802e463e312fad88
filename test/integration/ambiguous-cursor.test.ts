import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Issue 17 item 5: a cursor given twice, or in bracket form, used to be read as "no cursor" and replayed the
 * session from its start. It must be refused like every other malformed cursor.
 */
let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem({ edges: 1 });
});
afterAll(async () => {
  await sys?.close();
});

describe('ambiguous lastEventId query cursors', () => {
  it('answer 400 invalid_cursor; a single plain cursor still resumes after it', async () => {
    const s = await sys.create({ messages: [{ role: 'user', content: 'cursor' }], max_tokens: 6, mock: { intervalMs: 30 } });
    const full = await readSse(sys.edges[0]!.url, s.eventsUrl, { timeoutMs: 20_000 });
    expect(full.status).toBe(200);
    expect(full.events.length).toBeGreaterThan(3);

    for (const extra of ['lastEventId=2&lastEventId=3', 'lastEventId=2&lastEventId=2', 'lastEventId[a]=3', 'lastEventId[]=3', 'lastEventId%5Ba%5D=3', 'lastEventId=2&lastEventId[0]=3']) {
      const r = await readSse(sys.edges[0]!.url, `${s.eventsUrl}&${extra}`, { timeoutMs: 10_000 });
      expect(r.status, extra).toBe(400);
      expect(JSON.parse(r.raw).error.code, extra).toBe('invalid_cursor');
      expect(r.events, extra).toEqual([]);
    }

    const resumed = await readSse(sys.edges[0]!.url, `${s.eventsUrl}&lastEventId=2`, { timeoutMs: 10_000 });
    expect(resumed.status).toBe(200);
    expect(resumed.events.map((e) => e.id)).toEqual(full.events.slice(2).map((e) => e.id));
  });
});
