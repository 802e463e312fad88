#!/usr/bin/env node
// Starts the whole system on one machine: redis-server (unless REDIS_URL is set), the mock model, ingest
// and edge, each as its own process. Ctrl-C stops them all, edge first so clients are told before Redis goes.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

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
const port = Number(process.env.PORT ?? 8080);
run('edge', process.execPath, ['services/edge/dist/main.js'], { ...env, PORT: String(port) });
await waitForPort(port);
console.log(`
Relaycast is up: http://127.0.0.1:${port}   (Redis: ${redisUrl})
Try it:
  curl -s -X POST http://127.0.0.1:${port}/v1/sessions -H 'content-type: application/json' \\
       -d '{"messages":[{"role":"user","content":"hello"}],"max_tokens":50,"mock":{"intervalMs":50}}'
  curl -N http://127.0.0.1:${port}/v1/sessions/<id>/events
  curl -s http://127.0.0.1:${port}/v1/models      # one mock model per wire format: add "model": "mock-anthropic", …
Ctrl-C stops everything.
`);
