import { isIP } from 'node:net';
import { z } from 'zod';

/** Every setting with its default, in one place. README.md lists the same table. */
export const DEFAULTS = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_KEY_PREFIX: 'rc',
  HOST: '127.0.0.1',
  PORT: 8080,
  HEARTBEAT_MS: 15_000,
  SSE_RETRY_MS: 1_000,
  RETENTION_SECONDS: 3_600,
  QUEUED_TTL_SECONDS: 86_400,
  STREAM_MAXLEN: 1_000_000,
  REPLAY_PAGE_SIZE: 500,
  REPLAY_CACHE_BYTES: 262_144,
  LIVENESS_CHECK_MS: 5_000,
  SUBSCRIBER_MAX_QUEUE_BYTES: 1_048_576,
  LIVE_BUFFER_MAX_EVENTS: 10_000,
  MAX_CONNECTIONS: 20_000,
  WEB_DIR: 'web/dist',
  MAX_BODY_BYTES: 262_144,
  REQUEST_TIMEOUT_MS: 10_000,
  MAX_MESSAGES: 256,
  MAX_MESSAGE_CHARS: 100_000,
  INGEST_CONCURRENCY: 64,
  COALESCE_MS: 10,
  UPSTREAM_CONNECT_TIMEOUT_MS: 5_000,
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: 30_000,
  UPSTREAM_IDLE_TIMEOUT_MS: 30_000,
  GENERATION_TIMEOUT_MS: 600_000,
  UPSTREAM_MAX_ATTEMPTS: 3,
  UPSTREAM_RETRY_BASE_MS: 250,
  UPSTREAM_MAX_EVENT_BYTES: 1_048_576,
  JOB_ATTEMPTS: 3,
  LOCK_DURATION_MS: 10_000,
  STALLED_INTERVAL_MS: 3_000,
  MOCK_MODEL_URL: 'http://127.0.0.1:8090',
  DEFAULT_MODEL: 'mock',
  LOG_LEVEL: 'info',
  DRAIN_WINDOW_MS: 10_000,
  INGEST_DRAIN_MS: 30_000,
  METRICS_PORT: 9091,
  TOKEN_TTL_SECONDS: 900,
  SESSIONS_PER_MINUTE_PER_KEY: 120,
  MAX_RUNNING_PER_KEY: 32,
  MAX_CONNECTIONS_PER_IP: 256,
  MAX_CONNECTIONS_PER_SESSION: 1_000,
  EDGE_LEASE_MS: 15_000,
  PRODUCER_IDLE_TIMEOUT_MS: 60_000,
  PRODUCER_SWEEP_MS: 1_000,
  PUBLISH_EVENTS_PER_SECOND_PER_KEY: 5_000,
  PUBLISH_MAX_EVENT_BYTES: 65_536,
  PUBLISH_MAX_BATCH: 1_000,
  PUBLISH_STREAM_IDLE_MS: 30_000,
  PUBLISH_STREAM_MAX_MS: 3_600_000,
  HEADERS_TIMEOUT_MS: 5_000,
  STATUS_READS_PER_MINUTE_PER_TOKEN: 120,
  STATUS_READS_PER_MINUTE_PER_IP: 1_200,
} as const;

/** `openssl rand -base64 32` prints 44 characters; anything shorter than 32 is too guessable to sign with. */
export const MIN_TOKEN_SECRET_CHARS = 32;
/** Names express's trust-proxy setting understands besides addresses and CIDR ranges. */
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/**
 * Every variable of both services, declared once (README.md's table lists the same), in three groups: what
 * both read, and what only one reads. Each service parses the common group plus its own, so ingest neither
 * needs nor validates the edge's API keys and token secret.
 */
export const commonSettings = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  REDIS_URL: z.string().regex(/^(rediss?|redis\+cluster):\/\//, 'must be a redis://, rediss:// or redis+cluster:// URL').default(DEFAULTS.REDIS_URL),
  REDIS_CLUSTER_NODES: z.string().regex(/^[^,\s]+:\d{1,5}(,[^,\s]+:\d{1,5})*$/, 'host:port,host:port,…').optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/, 'letters, digits, : _ - only').default(DEFAULTS.REDIS_KEY_PREFIX),
  HOST: z.string().min(1).default(DEFAULTS.HOST),
  RETENTION_SECONDS: int(1).default(DEFAULTS.RETENTION_SECONDS),
  QUEUED_TTL_SECONDS: int(1).default(DEFAULTS.QUEUED_TTL_SECONDS),
  STREAM_MAXLEN: int(100).default(DEFAULTS.STREAM_MAXLEN),
  COALESCE_MS: int(0, 1_000).default(DEFAULTS.COALESCE_MS),
  GENERATION_TIMEOUT_MS: int(1).default(DEFAULTS.GENERATION_TIMEOUT_MS),
  JOB_ATTEMPTS: int(1, 20).default(DEFAULTS.JOB_ATTEMPTS),
  MOCK_MODEL_URL: z.url().default(DEFAULTS.MOCK_MODEL_URL),
  DEFAULT_MODEL: z.string().min(1).default(DEFAULTS.DEFAULT_MODEL),
  ROUTES_FILE: z.string().optional(),
  ROUTES_JSON: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULTS.LOG_LEVEL),
};

export const edgeSettings = {
  PORT: int(0, 65535).default(DEFAULTS.PORT),
  HEARTBEAT_MS: int(100).default(DEFAULTS.HEARTBEAT_MS),
  SSE_RETRY_MS: int(0).default(DEFAULTS.SSE_RETRY_MS),
  REPLAY_PAGE_SIZE: int(1, 10_000).default(DEFAULTS.REPLAY_PAGE_SIZE),
  REPLAY_CACHE_BYTES: int(0, 1 << 30).default(DEFAULTS.REPLAY_CACHE_BYTES),
  LIVENESS_CHECK_MS: int(100, 600_000).default(DEFAULTS.LIVENESS_CHECK_MS),
  SUBSCRIBER_MAX_QUEUE_BYTES: int(1024).default(DEFAULTS.SUBSCRIBER_MAX_QUEUE_BYTES),
  LIVE_BUFFER_MAX_EVENTS: int(1).default(DEFAULTS.LIVE_BUFFER_MAX_EVENTS),
  MAX_CONNECTIONS: int(1).default(DEFAULTS.MAX_CONNECTIONS),
  // The built page the edge serves at `/`; a relative path is resolved against the repository (image) root.
  WEB_DIR: z.string().min(1).default(DEFAULTS.WEB_DIR),
  MAX_BODY_BYTES: int(1024).default(DEFAULTS.MAX_BODY_BYTES),
  REQUEST_TIMEOUT_MS: int(100, 600_000).default(DEFAULTS.REQUEST_TIMEOUT_MS),
  MAX_MESSAGES: int(1).default(DEFAULTS.MAX_MESSAGES),
  MAX_MESSAGE_CHARS: int(1).default(DEFAULTS.MAX_MESSAGE_CHARS),
  DRAIN_WINDOW_MS: int(0, 600_000).default(DEFAULTS.DRAIN_WINDOW_MS),
  TOKEN_SECRET: z.string().min(MIN_TOKEN_SECRET_CHARS, `at least ${MIN_TOKEN_SECRET_CHARS} characters (openssl rand -base64 32)`).optional(),
  TOKEN_SECRET_PREVIOUS: z.string().min(MIN_TOKEN_SECRET_CHARS, `at least ${MIN_TOKEN_SECRET_CHARS} characters`).optional(),
  TOKEN_TTL_SECONDS: int(1, 86_400).default(DEFAULTS.TOKEN_TTL_SECONDS),
  API_KEYS: z.string().optional(),
  API_KEYS_FILE: z.string().optional(),
  SESSIONS_PER_MINUTE_PER_KEY: int(1).default(DEFAULTS.SESSIONS_PER_MINUTE_PER_KEY),
  MAX_RUNNING_PER_KEY: int(1).default(DEFAULTS.MAX_RUNNING_PER_KEY),
  MAX_CONNECTIONS_PER_IP: int(1).default(DEFAULTS.MAX_CONNECTIONS_PER_IP),
  MAX_CONNECTIONS_PER_SESSION: int(1).default(DEFAULTS.MAX_CONNECTIONS_PER_SESSION),
  EDGE_LEASE_MS: int(300, 600_000).default(DEFAULTS.EDGE_LEASE_MS),
  // Publish API (docs/publishing.md).
  PRODUCER_IDLE_TIMEOUT_MS: int(100, 86_400_000).default(DEFAULTS.PRODUCER_IDLE_TIMEOUT_MS),
  PRODUCER_SWEEP_MS: int(20, 600_000).default(DEFAULTS.PRODUCER_SWEEP_MS),
  PUBLISH_EVENTS_PER_SECOND_PER_KEY: int(1).default(DEFAULTS.PUBLISH_EVENTS_PER_SECOND_PER_KEY),
  PUBLISH_MAX_EVENT_BYTES: int(256, 16_777_216).default(DEFAULTS.PUBLISH_MAX_EVENT_BYTES),
  PUBLISH_MAX_BATCH: int(1, 100_000).default(DEFAULTS.PUBLISH_MAX_BATCH),
  PUBLISH_STREAM_IDLE_MS: int(100, 3_600_000).default(DEFAULTS.PUBLISH_STREAM_IDLE_MS),
  PUBLISH_STREAM_MAX_MS: int(1_000, 86_400_000).default(DEFAULTS.PUBLISH_STREAM_MAX_MS),
  HEADERS_TIMEOUT_MS: int(100, 120_000).default(DEFAULTS.HEADERS_TIMEOUT_MS),
  // The edge's probe listener (/healthz, /readyz, /metrics) on a port and thread of its own; unset: none.
  HEALTH_PORT: int(0, 65535).optional(),
  STATUS_READS_PER_MINUTE_PER_TOKEN: int(1, 1_000_000).default(DEFAULTS.STATUS_READS_PER_MINUTE_PER_TOKEN),
  STATUS_READS_PER_MINUTE_PER_IP: int(1, 1_000_000).default(DEFAULTS.STATUS_READS_PER_MINUTE_PER_IP),
  CORS_ORIGINS: z
    .string()
    .refine((v) => list(v).every((o) => /^https?:\/\/[^/\s,*]+$/.test(o)), 'comma-separated origins such as https://app.example.com (scheme and host, no path, no wildcard)')
    .optional(),
  TRUST_PROXY: z
    .string()
    .refine((v) => /^\d{1,2}$/.test(v) || list(v).every((e) => PROXY_NAMES.has(e) || isAddressOrRange(e)), 'a hop count (1) or addresses/CIDR ranges/loopback/linklocal/uniquelocal, comma-separated')
    .optional(),
};

export const ingestSettings = {
  INGEST_CONCURRENCY: int(1, 10_000).default(DEFAULTS.INGEST_CONCURRENCY),
  UPSTREAM_CONNECT_TIMEOUT_MS: int(1).default(DEFAULTS.UPSTREAM_CONNECT_TIMEOUT_MS),
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: int(1).default(DEFAULTS.UPSTREAM_FIRST_BYTE_TIMEOUT_MS),
  UPSTREAM_IDLE_TIMEOUT_MS: int(1).default(DEFAULTS.UPSTREAM_IDLE_TIMEOUT_MS),
  UPSTREAM_MAX_ATTEMPTS: int(1, 20).default(DEFAULTS.UPSTREAM_MAX_ATTEMPTS),
  UPSTREAM_RETRY_BASE_MS: int(0).default(DEFAULTS.UPSTREAM_RETRY_BASE_MS),
  UPSTREAM_MAX_EVENT_BYTES: int(1024).default(DEFAULTS.UPSTREAM_MAX_EVENT_BYTES),
  LOCK_DURATION_MS: int(1000).default(DEFAULTS.LOCK_DURATION_MS),
  STALLED_INTERVAL_MS: int(500).default(DEFAULTS.STALLED_INTERVAL_MS),
  INGEST_DRAIN_MS: int(0, 3_600_000).default(DEFAULTS.INGEST_DRAIN_MS),
  METRICS_PORT: int(0, 65535).default(DEFAULTS.METRICS_PORT),
};

/** A comma-separated list, trimmed, empty entries dropped. */
export function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function isAddressOrRange(e: string): boolean {
  const [addr, bits, ...rest] = e.split('/');
  if (rest.length || !addr || !isIP(addr)) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (isIP(addr) === 4 ? 32 : 128));
}

/** Every variable either service reads (for checks that deployment files and docs list them all). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys({ ...commonSettings, ...edgeSettings, ...ingestSettings });
