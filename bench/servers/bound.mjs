// The bound: the least work any SSE fan-out server in Node can do. Raw sockets (no HTTP machinery once the
// request head is read), a close-delimited response, frames encoded once by the publisher, and everything
// that arrived in one tick concatenated and written once per socket. No Redis, no auth, no resume.
import net from 'node:net';

const HEAD = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n:ok\n\n');
const socks = new Set();
let pending = [];

const server = net.createServer((sock) => {
  let head = '';
  const onHead = (c) => {
    head += c.toString('latin1');
    if (!head.includes('\r\n\r\n')) return;
    sock.off('data', onHead);
    sock.on('data', () => undefined); // a client has nothing more to say; keep reading so FIN is seen
    sock.write(HEAD);
    socks.add(sock);
  };
  sock.on('data', onHead);
  sock.on('error', () => undefined);
  sock.on('close', () => socks.delete(sock));
});
server.listen(0, '127.0.0.1', () => process.send({ cmd: 'listening', port: server.address().port }));

function flush() {
  const batch = pending.length === 1 ? pending[0] : Buffer.concat(pending);
  pending = [];
  for (const s of socks) s.write(batch);
}

process.on('message', (m) => {
  if (m.cmd !== 'publish') return;
  if (!pending.length) setImmediate(flush);
  for (const f of m.frames) pending.push(Buffer.from(f));
});
