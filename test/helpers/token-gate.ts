import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * A stand-in for the security branch's edge behaviour (CONTRACT.md, "HTTP API after the security branch"),
 * as a real HTTP proxy in front of a real edge, so the client's token handling is exercised before that
 * branch lands: an API key on create and token minting, `?token=` on the event stream, the token (or the
 * key) on status, 401 for an unknown or expired token, and an expired token's live streams cut without a
 * terminal event. It is not the security implementation; only the wire behaviour the contract fixes.
 */
export interface TokenGate {
  url: string;
  apiKey: string;
  /** Expires a token: its open streams are cut, and it gets 401 from then on. */
  expire(token: string): void;
  /** Every request the gate saw: method, path with query, and the status it answered (0 while streaming). */
  requests: { method: string; path: string; status: number }[];
  close(): Promise<void>;
}

export async function startTokenGate(edgeUrl: string): Promise<TokenGate> {
  const apiKey = `rk_${randomBytes(16).toString('base64url')}`;
  const valid = new Map<string, string>(); // token → session id
  const streams = new Map<string, Set<Socket>>(); // token → sockets of open event streams
  const requests: TokenGate['requests'] = [];
  const edge = new URL(edgeUrl);

  const mint = (id: string) => {
    const token = `rt1.${randomBytes(12).toString('base64url')}.sig`;
    valid.set(token, id);
    return { token, tokenExpiresAt: Date.now() + 60_000, eventsUrl: `/v1/sessions/${id}/events?token=${token}` };
  };
  const deny = (res: ServerResponse, entry: { status: number }) => {
    entry.status = 401;
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'unauthorized', message: 'bad or expired token' } }));
  };
  const proxy = (req: IncomingMessage, res: ServerResponse, path: string, body: Buffer | undefined, onJson?: (j: Record<string, unknown>) => Record<string, unknown>) =>
    new Promise<number>((resolve) => {
      const headers = { ...req.headers, host: edge.host };
      delete headers.authorization;
      delete headers['content-length'];
      const up = request({ host: edge.hostname, port: edge.port, method: req.method, path, headers: body ? { ...headers, 'content-length': String(body.length) } : headers }, (ur) => {
        if (!onJson) {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
          return resolve(ur.statusCode ?? 502);
        }
        const chunks: Buffer[] = [];
        ur.on('data', (c: Buffer) => chunks.push(c));
        ur.on('end', () => {
          let text = Buffer.concat(chunks).toString();
          if ((ur.statusCode ?? 0) < 300) text = JSON.stringify(onJson(JSON.parse(text) as Record<string, unknown>));
          res.writeHead(ur.statusCode ?? 502, { 'content-type': 'application/json' }).end(text);
          resolve(ur.statusCode ?? 502);
        });
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
        resolve(502);
      });
      res.on('close', () => up.destroy());
      up.end(body);
    });

  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://gate');
    const entry = { method: req.method ?? '', path: u.pathname + u.search, status: 0 };
    requests.push(entry);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const m = /^\/v1\/sessions\/([^/]+)(\/events|\/cancel|\/token)?$/.exec(u.pathname);
    if (u.pathname === '/v1/sessions' && req.method === 'POST') {
      if (bearer !== apiKey) return deny(res, entry);
      entry.status = await proxy(req, res, u.pathname, body, (j) => ({ ...j, ...mint(String(j.id)), tokenUrl: `/v1/sessions/${String(j.id)}/token` }));
      return;
    }
    if (!m) return void res.writeHead(404).end();
    const id = m[1]!;
    const ok = (t: string | undefined) => t !== undefined && valid.get(t) === id;
    if (m[2] === '/token') {
      if (bearer !== apiKey) return deny(res, entry);
      entry.status = 200;
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(mint(id)));
    }
    if (m[2] === '/events') {
      const token = u.searchParams.get('token') ?? bearer;
      if (!ok(token ?? undefined)) return deny(res, entry);
      u.searchParams.delete('token');
      let set = streams.get(token!);
      if (!set) streams.set(token!, (set = new Set()));
      set.add(req.socket);
      req.socket.once('close', () => set.delete(req.socket));
      entry.status = await proxy(req, res, u.pathname + u.search, undefined);
      return;
    }
    if (!ok(bearer) && bearer !== apiKey) return deny(res, entry);
    entry.status = await proxy(req, res, u.pathname, body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    apiKey,
    requests,
    expire(token) {
      valid.delete(token);
      // The contract: the edge ends the live stream without a terminal event.
      for (const s of streams.get(token) ?? []) s.destroy();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
