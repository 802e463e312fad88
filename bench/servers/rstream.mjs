// Vercel's resumable-stream on the same Redis: one producer, every other request resumes through pub/sub.
import http from 'node:http';
import { Redis } from 'ioredis';
import { createResumableStreamContext } from 'resumable-stream/ioredis';
const [redisUrl] = process.argv.slice(2);
const ctx = createResumableStreamContext({ waitUntil: null, publisher: new Redis(redisUrl), subscriber: new Redis(redisUrl), keyPrefix: `rs${process.pid}` });
let controller;
const id = 'bench';
await ctx.createNewResumableStream(id, () => new ReadableStream({ start(c) { controller = c; } }));
const server = http.createServer(async (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(':ok\n\n');
  const stream = await ctx.resumeExistingStream(id);
  if (!stream) return res.end();
  const reader = stream.getReader();
  res.on('close', () => reader.cancel().catch(() => undefined));
  for (;;) {
    const { done, value } = await reader.read().catch(() => ({ done: true }));
    if (done) break;
    res.write(value);
  }
  res.end();
});
server.listen(0, '127.0.0.1', () => process.send({ cmd: 'listening', port: server.address().port }));
process.on('message', (m) => {
  if (m.cmd === 'publish') controller.enqueue(m.frame);
});
