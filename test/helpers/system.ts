import { pino } from 'pino';
import { loadSystemConfig, type SystemConfig } from './config.js';
import { startEdge, type Edge } from '../../services/edge/src/index.js';
import { startIngest, type Ingest, type IngestOptions } from '../../services/ingest/src/index.js';
import { startMockModel } from '../../services/mock-model/src/index.js';
import { startRedis, type TestRedis } from './redis.js';
import { authEnv, createSession, makeKey, type CreatedSession, type TestKey } from './auth.js';

export interface TestSystem {
  redis: TestRedis;
  cfg: SystemConfig;
  edges: Edge[];
  ingest: Ingest;
  mockUrl: string;
  /** The API key of tenant `test` that create() uses, and `{authorization: 'Bearer <key>'}` for fetch. */
  apiKey: string;
  auth: { authorization: string };
  /** POST /v1/sessions on edge `i` with the system's API key, returning the parsed JSON body. */
  create(body: Record<string, unknown>, edge?: number): Promise<CreatedSession>;
  close(): Promise<void>;
}

const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/**
 * The whole system in this process, over real HTTP and a real Redis: mock model, one ingest worker and
 * `edges` edges, each on its own loopback port. A fresh key prefix isolates it from other suites.
 */
export async function startSystem(
  o: {
    edges?: number;
    env?: Record<string, string>;
    redis?: TestRedis;
    transcriptDir?: string;
    /** Routes (ROUTES_JSON) made once the mock model's URL is known. */
    routes?: (mockUrl: string) => Record<string, unknown>;
    ingest?: IngestOptions;
    keys?: TestKey[];
  } = {},
): Promise<TestSystem> {
  const redis = o.redis ?? (await startRedis());
  const mock = await startMockModel({ port: 0, ...(o.transcriptDir ? { transcriptDir: o.transcriptDir } : {}) });
  const main = makeKey('test', 'test');
  const cfg = loadSystemConfig({
    NODE_ENV: 'test',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.prefix(),
    PORT: '0',
    METRICS_PORT: '0',
    MOCK_MODEL_URL: mock.url,
    UPSTREAM_RETRY_BASE_MS: '10',
    LOCK_DURATION_MS: '5000',
    STALLED_INTERVAL_MS: '2000',
    ...authEnv([main, ...(o.keys ?? [])]),
    ...(o.routes ? { ROUTES_JSON: JSON.stringify(o.routes(mock.url)) } : {}),
    ...o.env,
  });
  const ingest = await startIngest(cfg, silent, o.ingest);
  const edges: Edge[] = [];
  for (let i = 0; i < (o.edges ?? 1); i++) edges.push(await startEdge(cfg, silent));
  return {
    redis,
    cfg,
    edges,
    ingest,
    mockUrl: mock.url,
    apiKey: main.key,
    auth: main.headers,
    create: (body, edge = 0) => createSession(edges[edge]!.url, main.key, body),
    async close() {
      await Promise.allSettled(edges.map((e) => e.close()));
      await ingest.close();
      await mock.close();
      if (!o.redis) await redis.close();
    },
  };
}
