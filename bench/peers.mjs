// Real alternatives run beside Relaycast in the same bench: nginx with the nchan module, and Pushpin (with
// zurl). Each is started from a config generated in a temp dir; a peer that is not installed is skipped and
// the reason printed. Their publish paths are their own HTTP APIs, driven like Relaycast's (fire and forget).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { Pool } from 'undici';
import { freePort, sleep, track, waitForPort } from './lib.mjs';

const NCHAN_MODULES = ['/usr/lib/nginx/modules/ngx_nchan_module.so', '/usr/share/nginx/modules/ngx_nchan_module.so'];
const NGINX_BINS = ['/usr/sbin/nginx', '/usr/bin/nginx'];

/** Why the peer cannot run here, or undefined when it can. */
export function nchanMissing() {
  if (!NGINX_BINS.some(existsSync)) return 'nginx not installed (apt-get install nginx)';
  if (!NCHAN_MODULES.some(existsSync)) return 'nchan module not installed (apt-get install libnginx-mod-nchan)';
  return undefined;
}

export function pushpinMissing() {
  for (const bin of ['pushpin', 'zurl', 'condure', 'pushpin-proxy', 'pushpin-handler']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) return `${bin} not installed (apt-get install pushpin zurl)`;
  }
  return undefined;
}

/** nginx + nchan, workers auto (one per core), messages kept long enough for any scenario here. */
export async function startNchan() {
  const dir = mkdtempSync(`${tmpdir()}/rc-bench-nchan-`);
  const port = await freePort();
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(`${dir}/${d}`);
  writeFileSync(`${dir}/nginx.conf`, `load_module ${NCHAN_MODULES.find(existsSync)};
worker_processes auto;
worker_rlimit_nofile 20000;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 19000; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  nchan_shared_memory_size 512m;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /sub { nchan_subscriber eventsource; nchan_channel_id $arg_c; nchan_subscriber_first_message newest; }
    location = /pub { nchan_publisher http; nchan_channel_id $arg_c; nchan_message_buffer_length 200000; nchan_message_timeout 1h; }
  }
}
`);
  const bin = NGINX_BINS.find(existsSync);
  const child = track(spawn(bin, ['-e', `${dir}/error.log`, '-p', dir, '-c', `${dir}/nginx.conf`], { stdio: ['ignore', 'ignore', 'inherit'] }));
  await waitForPort(port);
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4, pipelining: 8 });
  return {
    name: 'nchan',
    pid: child.pid,
    pids: () => [child.pid, ...childPids(child.pid)],
    url: (channel) => `http://127.0.0.1:${port}/sub?c=${channel}`,
    publish: async (channel, body) => {
      const r = await pool.request({ path: `/pub?c=${channel}`, method: 'POST', body, headers: { 'content-type': 'text/plain' } });
      await r.body.dump();
      if (r.statusCode >= 300) throw new Error(`nchan publish: HTTP ${r.statusCode}`);
    },
    stop: async () => {
      const workers = childPids(child.pid);
      await pool.close();
      child.kill('SIGKILL');
      for (const p of workers) safeKill(p);
    },
  };
}

/**
 * Pushpin (GRIP proxy) with its own runner-started condure and zurl, on a private port block and run dir.
 * A tiny origin answers every subscribe with Grip-Hold: stream on one channel; events go to the handler's
 * HTTP publish API.
 */
export async function startPushpin() {
  const dir = mkdtempSync(`${tmpdir()}/rc-bench-pushpin-`);
  mkdirSync(`${dir}/run`);
  mkdirSync(`${dir}/log`);
  const origin = http.createServer((req, res) => {
    const channel = new URL(req.url, 'http://x').searchParams.get('c');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'grip-hold': 'stream', 'grip-channel': channel, 'cache-control': 'no-cache' });
    res.end(':ok\n\n');
  });
  await new Promise((r) => origin.listen(0, '127.0.0.1', r));
  writeFileSync(`${dir}/routes`, `* 127.0.0.1:${origin.address().port}\n`);
  const httpPort = await freePort();
  const pubPort = await freePort();
  const zmq = (name) => `ipc://${dir}/run/pushpin-${name}`;
  writeFileSync(`${dir}/pushpin.conf`, `[global]
include=/usr/lib/pushpin/internal.conf
rundir=${dir}/run
ipc_prefix=pushpin-
port_offset=0
stats_connection_ttl=120
[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=${httpPort}
logdir=${dir}/log
log_level=${process.env.BENCH_PUSHPIN_LOG ?? 1}
client_buffer_size=8192
client_maxconn=50000
condure_bin=condure
zurl_bin=zurl
[proxy]
routesfile=${dir}/routes
zurl_out_specs=${zmq('zurl-in')}
zurl_out_stream_specs=${zmq('zurl-in-stream')}
zurl_in_specs=${zmq('zurl-out')}
sig_iss=pushpin
sig_key=bench-${process.pid}
updates_check=off
[handler]
push_in_spec=${zmq('push-in')}
push_in_http_addr=127.0.0.1
push_in_http_port=${pubPort}
stats_spec=ipc://${dir}/run/pushpin-stats
command_spec=${zmq('handler-command')}
message_rate=1000000
message_hwm=1000000
`);
  // BENCH_PUSHPIN_LOG=2 makes its logs (in the temp dir's log/) list every request and subscribe.
  const child = track(spawn('pushpin', ['--config', `${dir}/pushpin.conf`], { stdio: ['ignore', 'ignore', 'ignore'], detached: false }));
  await waitForPort(httpPort, 30_000);
  await waitForPort(pubPort, 30_000);
  const pool = new Pool(`http://127.0.0.1:${pubPort}`, { connections: 4, pipelining: 1 });
  return {
    name: 'pushpin',
    pid: child.pid,
    pids: () => descendants(child.pid),
    url: (channel) => `http://127.0.0.1:${httpPort}/sub?c=${channel}`,
    publish: async (channel, body, id) => {
      const content = `id: ${id}\ndata: ${body}\n\n`;
      const r = await pool.request({ path: '/publish/', method: 'POST', body: JSON.stringify({ items: [{ channel, formats: { 'http-stream': { content } } }] }), headers: { 'content-type': 'application/json' } });
      await r.body.dump();
      if (r.statusCode >= 300) throw new Error(`pushpin publish: HTTP ${r.statusCode}`);
    },
    stop: async () => {
      await pool.close();
      const all = descendants(child.pid);
      child.kill('SIGTERM');
      await sleep(300);
      for (const p of all) safeKill(p);
      origin.close();
    },
  };
}

function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function descendants(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childPids(out[i]));
  return out;
}

function safeKill(pid) {
  try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
}

/** Proportional set size (shared pages split between the processes sharing them), summed: bytes. */
export function pssOf(pids) {
  let kb = 0;
  for (const pid of pids) {
    try { kb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0); } catch { /* exited */ }
  }
  return kb * 1024;
}

