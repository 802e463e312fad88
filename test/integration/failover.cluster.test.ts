import { TERMINAL_TYPES } from '@relaycast/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

let cluster: TestCluster;
let sys: TestSystem;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
  sys = await startSystem({ edges: 2, redis: cluster });
});
afterAll(async () => {
  await sys?.close();
  await cluster?.close();
});

const TERMINAL: ReadonlySet<string> = TERMINAL_TYPES;

/** A client that resumes with its last id whenever the connection ends before the terminal event. */
async function follow(base: string, path: string, onEvent?: (e: ReceivedEvent) => void): Promise<ReceivedEvent[]> {
  const all: ReceivedEvent[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    const last = all.findLast((e) => e.id !== undefined)?.id;
    const r = await readSse(base, path, { ...(last ? { lastEventId: last } : {}), timeoutMs: 45_000, onEvent });
    if (r.status === 204) return all;
    all.push(...r.events);
    if (all.length && TERMINAL.has(all.at(-1)!.event!)) return all;
  }
  throw new Error('client did not reach a terminal event in 50 reconnects');
}

describe('Redis Cluster failover', () => {
  it('a master killed mid-stream: subscribers on both edges finish exactly, or are told of the gap in-band', async () => {
    const prompt = 'failover please';
    const s = await sys.create({ messages: [{ role: 'user', content: prompt }], seed: 11, max_tokens: 200, mock: { intervalMs: 10 } });
    const streamKey = sys.edges[0] && `${sys.cfg.REDIS_KEY_PREFIX}:s:{${s.id}}:events`;
    let killed: Promise<unknown> | undefined;
    const trigger = (e: ReceivedEvent) => {
      if (!killed && Number(e.id) >= 40) killed = cluster.killMasterOf(streamKey!);
    };
    const runs = await Promise.all([follow(sys.edges[0]!.url, s.eventsUrl, trigger), follow(sys.edges[0]!.url, s.eventsUrl), follow(sys.edges[1]!.url, s.eventsUrl), follow(sys.edges[1]!.url, s.eventsUrl)]);
    const { killedPort, promotedPort } = (await killed) as { killedPort: number; promotedPort: number };
    expect(promotedPort).not.toBe(killedPort);

    const expected = tokensFor(prompt, 11, 200).join('');
    for (const events of runs) {
      expect(events.filter((e) => TERMINAL.has(e.event!))).toHaveLength(1);
      // Ids only ever step by one, except across a gap event that names exactly what is missing.
      for (let i = 1; i < events.length; i++) {
        const [a, b] = [events[i - 1]!, events[i]!];
        if (b.event === 'gap') expect(JSON.parse(b.data).requested).toBe(a.id);
        else expect(Number(b.id)).toBe(Number(a.id) + 1);
      }
      let text = '';
      for (const e of events) {
        if (e.event === 'delta') text += JSON.parse(e.data).text;
        if (e.event === 'reset') text = '';
      }
      const sawGap = events.some((e) => e.event === 'gap');
      expect(events.at(-1)!.event).toBe('done');
      if (!sawGap) expect(text).toBe(expected);
    }
  }, 90_000);
});
