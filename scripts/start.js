#!/usr/bin/env node
// Starts the whole system on one machine: redis-server (unless REDIS_URL is set), the mock model, ingest
// and edge, each as its own process. Ctrl-C stops them all, edge first so clients are told before Redis goes.
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { apiKeyEntry, newApiKey } from '../packages/shared/dist/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function run(name, cmd, args, env = {}) {
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${name}] ${line}\n`));
  }
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[start] ${name} exited (${signal ?? code}); stopping everything`);
      stop(1);
    }
  });
  children.push({ name, child });
  return child;
}

/** Whether nothing listens on 127.0.0.1:port (the edge's default HOST). */
function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function waitForPort(port, timeoutMs = 15_000) {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const { child } of [...children].reverse()) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

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
  const file = `${root}.data/dev-credentials.json`;
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
    mkdirSync(`${root}.data`, { recursive: true });
    writeFileSync(file, JSON.stringify(dev, null, 2) + '\n', { mode: 0o600 });
  }
  return {
    env: { ...(haveSecret ? {} : { TOKEN_SECRET: dev.tokenSecret }), ...(haveKeys ? {} : { API_KEYS: JSON.stringify([apiKeyEntry(dev.apiKey, 'dev', 'dev')]) }) },
    key: haveKeys ? undefined : dev.apiKey,
  };
}
const creds = credentials();

// Checked before anything starts: with the port taken (another npm start, say), waitForPort below would find
// that other server and this script would print its own key and URL for it while its edge failed to listen.
const port = Number(process.env.PORT ?? 8080);
if (!(await portFree(port))) {
  console.error(`Port ${port} is already in use (another npm start?). Stop that, or pick another port: PORT=${port + 1} npm start`);
  process.exit(1);
}

let redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    console.error(`Relaycast needs Redis 7 or newer, and no redis-server was found on PATH.
Either install it:
  Debian/Ubuntu:  sudo apt-get install -y redis-server
  macOS:          brew install redis
  Docker:         docker run -p 6379:6379 redis:7-alpine
or point Relaycast at a running server:
  REDIS_URL=redis://127.0.0.1:6379 npm start`);
    process.exit(1);
  }
  const port = await freePort();
  const dir = `${root}.data/redis`;
  mkdirSync(dir, { recursive: true });
  run('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '']);
  await waitForPort(port);
  redisUrl = `redis://127.0.0.1:${port}`;
}

const mockPort = Number(process.env.MOCK_PORT ?? (await freePort()));
run('mock-model', process.execPath, ['services/mock-model/dist/main.js'], { MOCK_PORT: String(mockPort) });
await waitForPort(mockPort);
const env = { REDIS_URL: redisUrl, MOCK_MODEL_URL: process.env.MOCK_MODEL_URL ?? `http://127.0.0.1:${mockPort}` };
run('ingest', process.execPath, ['services/ingest/dist/main.js'], env);
run('edge', process.execPath, ['services/edge/dist/main.js'], { ...env, ...creds.env, PORT: String(port) });
await waitForPort(port);
const key = creds.key ?? '<your API key>';
const notice = creds.key
  ? `
  ┌ DEVELOPMENT API KEY ──────────────────────────────────────────────────────────────────────────
  │ ${creds.key}
  │ Made for this checkout and kept in .data/dev-credentials.json (delete it for a new one). Every
  │ API call needs it: Authorization: Bearer <key>. Open the demo page already holding it:
  │   http://127.0.0.1:${port}/#key=${creds.key}
  │ Never use it in production: there, configure TOKEN_SECRET and API_KEYS (docs/security.md).
  └───────────────────────────────────────────────────────────────────────────────────────────────
`
  : '\n  Using the configured API_KEYS and TOKEN_SECRET.\n';
console.log(`
Relaycast is up: http://127.0.0.1:${port}   (Redis: ${redisUrl})
${notice}
Or from a terminal: RELAYCAST_URL=http://127.0.0.1:${port} RELAYCAST_API_KEY=${key} npx relaycast ask "hello"
Try it:
  curl -s -X POST http://127.0.0.1:${port}/v1/sessions -H 'authorization: Bearer ${key}' -H 'content-type: application/json' \\
       -d '{"messages":[{"role":"user","content":"hello"}],"max_tokens":50,"mock":{"intervalMs":50}}'
  curl -N 'http://127.0.0.1:${port}<eventsUrl from the answer>'
  curl -s -H 'authorization: Bearer ${key}' http://127.0.0.1:${port}/v1/models   # one mock model per wire format: add "model": "mock-anthropic", …
Ctrl-C stops everything.
`);
