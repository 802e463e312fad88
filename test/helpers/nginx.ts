import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export const NGINX_CONF = fileURLToPath(new URL('../../deploy/nginx.conf', import.meta.url));

/** Debian installs nginx in /usr/sbin, which is not on every user's PATH. */
export const nginxBin = (): string => process.env.NGINX_BIN ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');

export interface RenderOptions {
  port: number;
  /** host:port of each edge, replacing compose's `edge:8080`. */
  upstreams: string[];
  /** Scratch directory for pid, temp files and the access log (replaces /tmp). */
  dir: string;
  /** proxy_read_timeout of the SSE location, in seconds (production: 60). */
  eventsReadTimeoutS?: number;
}

/**
 * deploy/nginx.conf with only what differs between compose and a test changed. Every rewrite must match
 * exactly where expected, so a test never silently runs a config that drifted from the deployed one.
 */
export function renderNginxConf(src: string, o: RenderOptions): string {
  const once = (s: string, re: RegExp, to: string | ((...m: string[]) => string)): string => {
    const n = [...s.matchAll(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g'))].length;
    if (n !== 1) throw new Error(`deploy/nginx.conf: expected exactly one match of ${re}, found ${n}`);
    return typeof to === 'string' ? s.replace(re, to) : s.replace(re, to);
  };
  if (!src.includes('/tmp/')) throw new Error('deploy/nginx.conf: expected paths under /tmp');
  // First, so the scratch directory (itself often under /tmp) is not rewritten again below.
  let s = src.replaceAll('/tmp/', `${o.dir}/`);
  s = once(s, /^worker_processes auto;$/m, 'worker_processes 1;');
  s = once(s, /^(\s*)listen 8080;$/m, (_m, indent) => `${indent}listen 127.0.0.1:${o.port};`);
  s = once(s, /^(\s*)server edge:8080( [^;]*)?;$/m, (_m, indent, params = '') => o.upstreams.map((u) => `${indent}server ${u}${params};`).join('\n'));
  s = once(s, /access_log \/dev\/stdout relaycast;/m, `access_log ${o.dir}/access.log relaycast;`);
  if (o.eventsReadTimeoutS !== undefined) s = once(s, /proxy_read_timeout 60s;/m, `proxy_read_timeout ${o.eventsReadTimeoutS}s;`);
  return s;
}

export interface TestNginx {
  url: string;
  port: number;
  /** Lines nginx wrote to stderr (its error log). */
  errors(): string;
  /** Parsed JSON access-log lines. */
  accessLog(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Runs the real nginx binary, in the foreground, with deploy/nginx.conf rendered for this test. */
export async function startNginx(o: Omit<RenderOptions, 'port' | 'dir'>): Promise<TestNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'rc-nginx-'));
  // When tests run as root, nginx's workers switch to `nobody` and must still reach their temp paths.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, renderNginxConf(readFileSync(NGINX_CONF, 'utf8'), { ...o, port, dir }));
  let stderr = '';
  const child: ChildProcess = spawn(nginxBin(), ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (e) => (stderr += `spawn failed: ${e.message}`));
  try {
    await waitForListen(port, child, () => stderr);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    errors: () => stderr,
    accessLog: () => {
      const path = join(dir, 'access.log');
      if (!existsSync(path)) return [];
      return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForListen(port: number, child: ChildProcess, stderr: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
