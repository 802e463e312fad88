import { randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Config, Limiter, Logger } from '@relaycast/shared';

export type ConnectionSlot = { ok: true; release(): void } | { ok: false; limit: 'ip' | 'session' };

/**
 * SSE connections per client address and per session, counted over every edge in Redis (connect-1.lua):
 * two script calls when a stream opens and two when it closes, nothing per event. Each edge counts its own
 * connections under its id and says it is alive every third of EDGE_LEASE_MS (edges-1.lua); when an edge
 * dies without closing its streams, its counts stop counting about one lease later.
 */
export class ConnectionLimits {
  readonly edgeId = randomUUID();
  private liveEdges: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limiter: Limiter,
    private readonly cfg: Config,
    private readonly log: Logger,
  ) {}

  /** Longer than any stream lives (its token's lifetime), so a count is never dropped while it is in use. */
  private get ttlMs(): number {
    return this.cfg.TOKEN_TTL_SECONDS * 1000 + 2 * this.cfg.EDGE_LEASE_MS;
  }

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.cfg.EDGE_LEASE_MS / 3)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async beat(): Promise<void> {
    try {
      this.liveEdges = await this.limiter.heartbeat(this.edgeId, this.cfg.EDGE_LEASE_MS);
    } catch (err) {
      // Missing beats only make this edge's counts lapse early (the limit errs towards letting clients in).
      this.log.warn({ err: (err as Error).message }, 'edge heartbeat failed; will retry');
    }
  }

  /**
   * Takes a slot for the client address and one for the session, in parallel (on a cluster they live on
   * different shards), and gives back the one it took if the other is refused.
   */
  async acquire(ip: string | undefined, sessionId: string): Promise<ConnectionSlot> {
    const keys = this.limiter.keys.limits;
    const ipKey = keys.ipConnections(clientSubject(ip));
    const sessionKey = keys.sessionConnections(sessionId);
    const o = { leaseMs: this.cfg.EDGE_LEASE_MS, ttlMs: this.ttlMs, liveEdges: this.liveEdges };
    const [byIp, bySession] = await Promise.allSettled([
      this.limiter.connect(ipKey, this.edgeId, this.cfg.MAX_CONNECTIONS_PER_IP, o),
      this.limiter.connect(sessionKey, this.edgeId, this.cfg.MAX_CONNECTIONS_PER_SESSION, o),
    ]);
    const took = (r: PromiseSettledResult<{ ok: boolean }>) => r.status === 'fulfilled' && r.value.ok;
    if (took(byIp) && took(bySession)) {
      let released = false;
      return {
        ok: true,
        release: () => {
          if (released) return;
          released = true;
          this.give(ipKey);
          this.give(sessionKey);
        },
      };
    }
    if (took(byIp)) this.give(ipKey);
    if (took(bySession)) this.give(sessionKey);
    for (const r of [byIp, bySession]) if (r.status === 'rejected') throw r.reason;
    return { ok: false, limit: took(byIp) ? 'session' : 'ip' };
  }

  private give(key: string): void {
    this.limiter.disconnect(key, this.edgeId).catch((err: Error) => {
      // The count lapses with the key's TTL at worst.
      this.log.debug({ err: err.message }, 'could not release a connection slot');
    });
  }
}

/**
 * What the per-address limit counts: an IPv4 address as is (IPv4-mapped IPv6 unwrapped), an IPv6 address
 * by its /64, since one subscriber gets a whole /64 and could otherwise use a fresh address per connection.
 */
export function clientSubject(ip: string | undefined): string {
  if (!ip) return 'unknown';
  if (ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) return ip.slice(7);
  if (!isIPv6(ip)) return ip;
  const [head = '', tail] = ip.split('%')[0]!.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  let groups = h;
  if (tail !== undefined) {
    const t = tail ? tail.split(':') : [];
    const tailGroups = t.length + (t.at(-1)?.includes('.') ? 1 : 0);
    groups = [...h, ...Array<string>(8 - h.length - tailGroups).fill('0'), ...t];
  }
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
