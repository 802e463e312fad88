import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeySpace } from './keys.js';
import type { RedisClient } from './redis.js';
import { commandsOf, type ScriptArg } from './scripts.js';
import type { StoreOptions } from './store.js';

type Reply = [number, number | string, ...(number | string)[]];
/** The Redis commands the producer store runs: its scripts (publish-3, claim-1, end-producer-3, publish-rate-1) and seven plain commands. */
export interface ProducerCommands extends Pick<RedisClient, 'multi' | 'hmget' | 'hget' | 'exists' | 'zrangebyscore' | 'zadd' | 'zrem'> {
  rcPublish(...args: ScriptArg[]): Promise<Reply>;
  rcClaim(...args: ScriptArg[]): Promise<Reply>;
  rcEndProducer(...args: ScriptArg[]): Promise<Reply>;
  rcPublishRate(...args: ScriptArg[]): Promise<Reply>;
}

/** Return codes of the publish API's scripts, named as each script's header lists them. */
export const PublishCode = { Appended: 1, Duplicate: 0, Missing: -1, Fenced: -2, Ended: -3, NotProducer: -4, UnknownEpoch: -5, OutOfOrder: -6 } as const;
export const ClaimCode = { Claimed: 1, Missing: -1, Ended: -3, NotProducer: -4 } as const;
export const EndProducerCode = { Ended: 1, NotDue: 0, Missing: -1, AlreadyEnded: -3, NotProducer: -4 } as const;

/** Producer tokens: `rp_` + 32 random bytes; only their SHA-256 is stored (in the session's metadata). */
export const PRODUCER_TOKEN_PREFIX = 'rp_';
const hashToken = (t: string) => createHash('sha256').update(t, 'utf8').digest('hex');

/** The outcome of one publish (see publish-3.lua for the codes). */
export type PublishResult =
  | { kind: 'appended'; pseq: number; seq: number; deadline: number }
  | { kind: 'duplicate'; pseq: number; seq: number }
  | { kind: 'missing' }
  | { kind: 'fenced'; epoch: number }
  | { kind: 'ended'; pseq: number }
  | { kind: 'not_producer' }
  | { kind: 'unknown_epoch'; epoch: number }
  | { kind: 'out_of_order'; pseq: number };

export interface ProducerMeta {
  epoch: number;
  pseq: number;
  idleMs: number;
  processors: unknown[];
  tokenHash: string;
  tenant: string;
  keyId: string;
  status: string;
  /** Last stored seq. */
  seq: number;
  terminal?: number;
  cancelRequested?: string;
  /** Generated content characters stored so far (what `max-output` counts). */
  outChars: number;
}

/**
 * Producer-owned sessions (the publish API, issue 20) in Redis: the session's own keys (same stream, meta
 * and live channel as a generated session, so the edges' subscribers need nothing new) plus the fields a
 * producer needs: epoch, last acknowledged producer seq, idle deadline, processors and its token's hash.
 */
export class ProducerStore {
  private readonly redis: ProducerCommands;

  constructor(redis: RedisClient | ProducerCommands, readonly keys: KeySpace, readonly opts: StoreOptions) {
    this.redis = commandsOf<ProducerCommands>(redis);
  }

  /** Creates the session already running with epoch 1; returns the producer's token (shown once). */
  async create(id: string, f: { label: string; tenant: string; keyId: string; idleMs: number; processors: unknown[] }): Promise<{ token: string; deadline: number }> {
    const token = PRODUCER_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const now = Date.now();
    const deadline = now + f.idleMs;
    const k = this.keys.session(id);
    await this.redis
      .multi()
      .hset(k.meta, { status: 'running', model: f.label, createdAt: now, startedAt: now, seq: 0, attempt: 0, tenant: f.tenant, keyId: f.keyId, producer: 1, epoch: 1, pseq: 0, idleMs: f.idleMs, deadline, processors: JSON.stringify(f.processors), ptoken: hashToken(token) })
      .expire(k.meta, this.opts.openTtlSeconds)
      .exec();
    await this.track(id, deadline);
    return { token, deadline };
  }

  /** The producer fields of a session; undefined when it does not exist or is not producer-owned. */
  async meta(id: string): Promise<ProducerMeta | undefined> {
    const f = ['producer', 'epoch', 'pseq', 'idleMs', 'processors', 'ptoken', 'tenant', 'keyId', 'status', 'seq', 'terminal', 'cancelRequested', 'outChars'] as const;
    const v = await this.redis.hmget(this.keys.session(id).meta, ...f);
    const h = Object.fromEntries(f.map((name, i) => [name, v[i] ?? undefined])) as Record<(typeof f)[number], string | undefined>;
    if (h.producer !== '1') return undefined;
    return {
      epoch: Number(h.epoch ?? 0),
      pseq: Number(h.pseq ?? 0),
      idleMs: Number(h.idleMs ?? 0),
      processors: JSON.parse(h.processors ?? '[]') as unknown[],
      tokenHash: h.ptoken ?? '',
      tenant: h.tenant ?? '',
      keyId: h.keyId ?? '',
      status: h.status ?? '',
      seq: Number(h.seq ?? 0),
      outChars: Number(h.outChars ?? 0),
      ...(h.terminal !== undefined ? { terminal: Number(h.terminal) } : {}),
      ...(h.cancelRequested !== undefined ? { cancelRequested: h.cancelRequested } : {}),
    };
  }

  /** Whether the session is producer-owned (one HGET: the cancel route asks this of every session). */
  async isProducer(id: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.session(id).meta, 'producer')) === '1';
  }

  /** Whether the session exists at all (producer-owned or not). */
  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.session(id).meta)) === 1;
  }

  /** Whether `token` is this session's producer token (constant time). */
  static tokenMatches(token: string, hash: string): boolean {
    const a = Buffer.from(hashToken(token), 'hex');
    const b = Buffer.from(hash, 'hex');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** `chars`: generated content characters in `events` (kept as meta.outChars for the output cap). */
  async publish(id: string, epoch: number, firstPseq: number, covers: number, events: readonly { type: string; data: string }[], chars = 0): Promise<PublishResult> {
    const k = this.keys.session(id);
    const args: (string | number)[] = [k.stream, k.meta, k.live, epoch, firstPseq, covers, this.opts.maxLen, this.opts.retentionSeconds, this.opts.openTtlSeconds, chars];
    for (const e of events) args.push(e.type, e.data);
    const [code, a, b, c] = await this.redis.rcPublish(...args);
    const n = (v: unknown) => Number(v ?? 0);
    switch (code) {
      case PublishCode.Appended:
        // The deadline index is not touched here (a round trip per publish): the sweeper finds the entry at
        // its old deadline, the script tells it the new one, and it re-files it: once per idle period at most.
        if (n(c) === 0) await this.untrack(id);
        return { kind: 'appended', pseq: n(a), seq: n(b), deadline: n(c) };
      case PublishCode.Duplicate: return { kind: 'duplicate', pseq: n(a), seq: n(b) };
      case PublishCode.Missing: return { kind: 'missing' };
      case PublishCode.Fenced: return { kind: 'fenced', epoch: n(a) };
      case PublishCode.Ended: return { kind: 'ended', pseq: n(a) };
      case PublishCode.NotProducer: return { kind: 'not_producer' };
      case PublishCode.UnknownEpoch: return { kind: 'unknown_epoch', epoch: n(a) };
      case PublishCode.OutOfOrder: return { kind: 'out_of_order', pseq: n(a) };
      default: throw new Error(`publish-3 returned ${code} for session ${id}`);
    }
  }

  /** A new producer takes the session over (claim-1.lua). */
  async claim(id: string): Promise<{ kind: 'claimed'; epoch: number; pseq: number } | { kind: 'missing' | 'ended' | 'not_producer' }> {
    // The new deadline is filed by the sweeper when it meets the old entry (see publish()).
    const [code, epoch, pseq] = await this.redis.rcClaim(this.keys.session(id).meta, this.opts.openTtlSeconds);
    if (code === ClaimCode.Claimed) return { kind: 'claimed', epoch: Number(epoch), pseq: Number(pseq) };
    return { kind: code === ClaimCode.Missing ? 'missing' : code === ClaimCode.Ended ? 'ended' : 'not_producer' };
  }

  /**
   * Ends the session from Relaycast's side (end-producer-3.lua): `cancel` always, `timeout` only once its
   * idle deadline passed. Returns the script's code and value.
   */
  async end(id: string, mode: 'cancel' | 'timeout', terminal: { type: string; data: string }, reason = ''): Promise<{ code: number; value: number | string }> {
    const k = this.keys.session(id);
    const [code, value] = await this.redis.rcEndProducer(k.stream, k.meta, k.live, mode, terminal.type, terminal.data, this.opts.maxLen, this.opts.retentionSeconds, reason);
    if (code === EndProducerCode.NotDue) {
      if (Number(value) > 0) await this.track(id, Number(value));
    } else await this.untrack(id);
    return { code, value: value ?? 0 };
  }

  /** Charges `cost` events to the key's publish rate (publish-rate-1.lua); retryAfterMs when refused. */
  async charge(keyId: string, perSecond: number, burst: number, cost: number): Promise<{ ok: boolean; retryAfterMs: number }> {
    const [code, retry] = await this.redis.rcPublishRate(this.keys.publish.rate(keyId), perSecond, burst, cost);
    return { ok: code === 1, retryAfterMs: Number(retry) }; // publish-rate-1.lua: 1 admitted, -1 refused
  }

  /** Sessions whose idle deadline is at or before `now` (edge clock; the script decides on Redis's). */
  due(now: number, max: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.publish.deadlines, '-inf', now, 'LIMIT', 0, max);
  }

  private async track(id: string, deadline: number): Promise<void> {
    await this.redis.zadd(this.keys.publish.deadlines, deadline, id);
  }

  private async untrack(id: string): Promise<void> {
    await this.redis.zrem(this.keys.publish.deadlines, id);
  }
}
