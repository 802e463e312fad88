// The limit: a bare node:http server writing the same pre-encoded SSE frames to every socket. No Redis.
import http from 'node:http';
const socks = new Set();
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(':ok\n\n');
  socks.add(res);
  res.on('close', () => socks.delete(res));
});
server.listen(0, '127.0.0.1', () => process.send({ cmd: 'listening', port: server.address().port }));
process.on('message', (m) => {
  if (m.cmd === 'publish') {
    const frame = Buffer.from(m.frame);
    for (const r of socks) r.write(frame);
  }
});
