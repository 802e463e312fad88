// The launcher's own redis-server: one per data directory (its append-only file must never have two
// writers), its log kept in the data directory and shown only when something is wrong.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onStopped, run } from './children.js';
import { freePort, waitForPort } from './net.js';

const LOG_TAIL_LINES = 20;

function alivePid(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * Takes `<dir>/launcher.lock` for this process (pid inside), or returns the pid of the live launcher holding
 * it. A lock left by a launcher that died (SIGKILL, a crash) is taken over.
 */
function lock(dir) {
  const file = join(dir, 'launcher.lock');
  for (let tries = 0; tries < 3; tries++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      onStopped(() => {
        if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
      });
      return undefined;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alivePid(holder)) return holder;
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not take ${file}`);
}

function tail(file) {
  if (!existsSync(file)) return '(no log written)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

/** Starts redis-server on a free port with its data in `<dataDir>/redis`; returns its URL. Exits on failure. */
export async function startRedis(dataDir) {
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
  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const holder = lock(dir);
  if (holder !== undefined) {
    console.error(`Another npm start (pid ${holder}) is using ${dir}: two Redis servers must never share one append-only file.
Stop that one first, or give this one its own data: RELAYCAST_DATA_DIR=/some/other/dir npm start (or REDIS_URL=…).`);
    process.exit(1);
  }
  const port = await freePort();
  const logFile = join(dir, 'redis.log');
  // Its own log (the memory-overcommit warning, say) goes to the file; shown only if it dies.
  const redis = run('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--logfile', logFile], {
    onUnexpectedExit: () => console.error(`[start] the end of ${logFile}:\n${tail(logFile)}`),
  });
  await waitForPort(port, redis.alive);
  return `redis://127.0.0.1:${port}`;
}
