import { randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { KeySpace, Limiter } from '@relaycast/store';
import type { Logger } from '@relaycast/shared';
import type { EdgeConfig } from './config.js';

/** An event stream's admission: its slots (to release on close) and the session's last seq, or why not. */
export type Admission =
  | { ok: true; seq: number; release(): void }
  | { ok: false; why: 'not_found' | 'forbidden' | 'finished' | 'ip' | 'session' };

/**
 * SSE connections per client address and per session, counted over every edge in Redis (connect-1.lua):
 * one round trip when a stream opens (the session's admission script and the address's slot, in parallel) and two script calls when it closes, nothing per event. Each edge counts its own
 * connections under its id and says it is alive every third of EDGE_LEASE_MS (edges-1.lua); when an edge
 * dies without closing its streams, its counts stop counting about one lease later.
 */
export class ConnectionLimits {
  readonly edgeId = randomUUID();
  readonly keys: KeySpace['limits'];
  private liveEdges: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limiter: Limiter,
    private readonly cfg: EdgeConfig,
    private readonly log: Logger,
  ) {
    this.keys = limiter.keys.limits;
  }

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
   * Admits an event stream in one round trip: the session's owner, end and slot in one script
   * (subscribe-2.lua) and, in parallel, the client address's slot (another shard on a cluster). A slot
   * taken when the other answer refuses is given back. `take: false` (HEAD) checks the session only.
   */
  async admit(ip: string | undefined, sessionId: string, o: { tenant: string; cursor: number; take: boolean }): Promise<Admission> {
    const ipKey = this.limiter.keys.limits.ipConnections(clientSubject(ip));
    const sessionKey = this.limiter.keys.limits.sessionConnections(sessionId);
    const lease = { leaseMs: this.cfg.EDGE_LEASE_MS, ttlMs: this.ttlMs, liveEdges: this.liveEdges };
    const [bySession, byIp] = await Promise.allSettled([
      this.limiter.subscribe(sessionId, this.edgeId, this.cfg.MAX_CONNECTIONS_PER_SESSION, { ...o, ...lease }),
      o.take ? this.limiter.connect(ipKey, this.edgeId, this.cfg.MAX_CONNECTIONS_PER_IP, lease) : Promise.resolve({ ok: true, total: 0 }),
    ]);
    const tookSession = o.take && bySession.status === 'fulfilled' && bySession.value.outcome === 'admitted';
    const tookIp = o.take && byIp.status === 'fulfilled' && byIp.value.ok;
    if (bySession.status === 'fulfilled' && bySession.value.outcome === 'admitted' && (tookIp || !o.take)) {
      const held = o.take ? new HeldSlots(this, clientSubject(ip), sessionId) : undefined;
      return { ok: true, seq: bySession.value.seq, release: () => held?.release() };
    }
    if (tookIp) this.give(ipKey);
    if (tookSession) this.give(sessionKey);
    if (bySession.status === 'rejected') throw bySession.reason;
    if (byIp.status === 'rejected') throw byIp.reason;
    const outcome = bySession.value.outcome;
    if (outcome !== 'admitted' && outcome !== 'session_full') return { ok: false, why: outcome };
    return { ok: false, why: tookIp ? 'session' : 'ip' };
  }

  /** Gives back a slot taken by {@link admit}. */
  give(key: string): void {
    this.limiter.disconnect(key, this.edgeId).catch((err: Error) => {
      // The count lapses with the key's TTL at worst.
      this.log.debug({ err: err.message }, 'could not release a connection slot');
    });
  }
}

/**
 * The two slots of an open stream, held for its whole life: only the subject and session id are kept (the
 * keys are built again at release), since a stream lives for hours and a built key is a chain of strings.
 */
class HeldSlots {
  private released = false;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly subject: string,
    private readonly sessionId: string,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    const keys = this.limits.keys;
    this.limits.give(keys.ipConnections(this.subject));
    this.limits.give(keys.sessionConnections(this.sessionId));
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
