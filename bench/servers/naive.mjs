// Naive: one blocking XREAD loop (and one Redis connection) per subscriber, the common hand-written relay.
import http from 'node:http';
import { Redis } from 'ioredis';
const [redisUrl, stream] = process.argv.slice(2);
const server = http.createServer(async (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(':ok\n\n');
  const r = new Redis(redisUrl, { maxRetriesPerRequest: null });
  let open = true;
  res.on('close', () => { open = false; r.disconnect(); });
  // Each run uses a fresh stream, so reading from the start misses nothing published before the first XREAD.
  let cursor = '0';
  while (open) {
    const got = await r.xread('BLOCK', 5000, 'STREAMS', stream, cursor).catch(() => null);
    if (!got) continue;
    for (const [id, fields] of got[0][1]) {
      cursor = id;
      res.write(`id: ${id}\nevent: ${fields[1]}\ndata: ${fields[3]}\n\n`);
    }
  }
});
server.listen(0, '127.0.0.1', () => process.send({ cmd: 'listening', port: server.address().port }));
