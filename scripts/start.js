#!/usr/bin/env node
// Starts the whole system on one machine: redis-server (unless REDIS_URL is set), the mock model, ingest
// and edge, each as its own process. Ctrl-C stops them all, edge first so clients are told before Redis goes;
// so does any of them exiting, whatever killed it (scripts/lib/children.js).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiKeyEntry, newApiKey } from '../services/edge/dist/api-keys.js';
import { run, stop } from './lib/children.js';
import { freePort, portFree, waitForPort, waitReady } from './lib/net.js';
import { startRedis } from './lib/redis.js';

const root = fileURLToPath(new URL('..', import.meta.url));
// Redis data and development credentials; RELAYCAST_DATA_DIR gives a second launcher (or a test) its own.
const dataDir = resolve(root, process.env.RELAYCAST_DATA_DIR ?? '.data');

/**
 * The edge's credentials. Configured ones (TOKEN_SECRET, API_KEYS or API_KEYS_FILE) are used as they are;
 * production refuses to run without them. Otherwise, in development, a token secret and an API key are
 * made once and kept in .data/dev-credentials.json (git-ignored, owner-only), so a restart keeps every
 * token and the key a person already pasted. Returns the environment to add and the key to print, if ours.
 */
function credentials() {
  const haveSecret = Boolean(process.env.TOKEN_SECRET);
  const haveKeys = Boolean(process.env.API_KEYS || process.env.API_KEYS_FILE);
  if (haveSecret && haveKeys) return { env: {} };
  if (process.env.NODE_ENV === 'production') {
    const missing = [haveSecret ? '' : 'TOKEN_SECRET', haveKeys ? '' : 'API_KEYS (or API_KEYS_FILE)'].filter(Boolean).join(' and ');
    console.error(`NODE_ENV=production: ${missing} must be configured (docs/security.md); refusing to start.`);
    process.exit(2);
  }
  const file = `${dataDir}/dev-credentials.json`;
  let saved = {};
  if (existsSync(file)) {
    try {
      saved = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      console.error(`[start] ${file} is unreadable; making new development credentials`);
    }
  }
  const dev = { tokenSecret: saved.tokenSecret ?? randomBytes(32).toString('base64url'), apiKey: saved.apiKey ?? newApiKey() };
  if (dev.tokenSecret !== saved.tokenSecret || dev.apiKey !== saved.apiKey) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(dev, null, 2) + '\n', { mode: 0o600 });
  }
  return {
    env: { ...(haveSecret ? {} : { TOKEN_SECRET: dev.tokenSecret }), ...(haveKeys ? {} : { API_KEYS: JSON.stringify([apiKeyEntry(dev.apiKey, 'dev', 'dev')]) }) },
    key: haveKeys ? undefined : dev.apiKey,
  };
}
const creds = credentials();

/**
 * The ports this launcher will use. One given in the environment is checked before anything starts (a
 * clash would otherwise surface as a child's stack trace, or as this script greeting another server);
 * one not given is picked free. The edge keeps its documented 8080 when that is free.
 */
async function ports() {
  const told = { PORT: process.env.PORT, METRICS_PORT: process.env.METRICS_PORT, MOCK_PORT: process.env.MOCK_PORT };
  for (const [name, value] of Object.entries(told)) {
    if (value === undefined || value === '' || value === '0') continue;
    const port = Number(value);
    if (!Number.isInteger(port) || port < 1 || port > 65535) fatal(`${name}=${value} is not a port number.`);
    if (!(await portFree(port))) fatal(`Port ${port} (${name}) is already in use (another npm start?). Stop that, or leave ${name} unset and a free port is picked.`);
  }
  const pick = async (value) => (value && value !== '0' ? Number(value) : freePort());
  const edge = told.PORT ? Number(told.PORT) : (await portFree(8080)) ? 8080 : await freePort();
  return { edge, metrics: await pick(told.METRICS_PORT), mock: await pick(told.MOCK_PORT) };
}

function fatal(message) {
  console.error(message);
  process.exit(1);
}

async function main() {
  const port = await ports();
  const redisUrl = process.env.REDIS_URL ?? (await startRedis(dataDir));
  const mock = run('mock-model', process.execPath, ['services/mock-model/dist/main.js'], { cwd: root, env: { MOCK_PORT: String(port.mock) } });
  await waitForPort(port.mock, mock.alive);
  const env = { REDIS_URL: redisUrl, MOCK_MODEL_URL: process.env.MOCK_MODEL_URL ?? `http://127.0.0.1:${port.mock}` };
  const ingest = run('ingest', process.execPath, ['services/ingest/dist/main.js'], { cwd: root, env: { ...env, METRICS_PORT: String(port.metrics) } });
  const edge = run('edge', process.execPath, ['services/edge/dist/main.js'], { cwd: root, env: { ...env, ...creds.env, PORT: String(port.edge) } });
  // "Up" means both take work: the edge answers /readyz (Redis reachable) and ingest's worker is running.
  await Promise.all([waitReady(`http://127.0.0.1:${port.edge}/readyz`, edge.alive), waitReady(`http://127.0.0.1:${port.metrics}/readyz`, ingest.alive)]);
  greet(port, redisUrl);
}

function greet(ports, redisUrl) {
  const port = ports.edge;
  const key = creds.key ?? '<your API key>';
  const notice = creds.key
    ? `
  ┌ DEVELOPMENT API KEY ──────────────────────────────────────────────────────────────────────────
  │ ${creds.key}
  │ Made for this checkout and kept in ${relative(root, `${dataDir}/dev-credentials.json`)} (delete it for a new one). Every
  │ API call needs it: Authorization: Bearer <key>. Open the demo page already holding it:
  │   http://127.0.0.1:${port}/#key=${creds.key}
  │ Never use it in production: there, configure TOKEN_SECRET and API_KEYS (docs/security.md).
  └───────────────────────────────────────────────────────────────────────────────────────────────
`
    : '\n  Using the configured API_KEYS and TOKEN_SECRET.\n';
  console.log(`
Relaycast is up: http://127.0.0.1:${port}   (Redis: ${redisUrl}; ingest metrics: http://127.0.0.1:${ports.metrics}/metrics)
${notice}
Or from a terminal: RELAYCAST_URL=http://127.0.0.1:${port} RELAYCAST_API_KEY=${key} npx relaycast ask "hello"
Try it:
  curl -s -X POST http://127.0.0.1:${port}/v1/sessions -H 'authorization: Bearer ${key}' -H 'content-type: application/json' \\
       -d '{"messages":[{"role":"user","content":"hello"}],"max_tokens":50,"mock":{"intervalMs":50}}'
  curl -N 'http://127.0.0.1:${port}<eventsUrl from the answer>'
  curl -s -H 'authorization: Bearer ${key}' http://127.0.0.1:${port}/v1/models   # one mock model per wire format: add "model": "mock-anthropic", …
Ctrl-C stops everything.
  `);
}

try {
  await main();
} catch (e) {
  console.error(`[start] ${e.message}; stopping everything`);
  await stop(1);
}
