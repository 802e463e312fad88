/**
 * The one place that builds Redis keys. Every key of a session carries `{id}` as a hash tag so that
 * all of them share a cluster slot: the append script touches several of them atomically.
 */
export interface SessionKeys {
  /** Redis Stream of the session's events; entry id `<seq>-0`. */
  stream: string;
  /** Hash: status, model, attempt, seq, terminal seq, timestamps. */
  meta: string;
  /** Pub/sub channel carrying each appended batch to the edges. */
  live: string;
  /** Pub/sub channel carrying cancel requests to the worker running the session. */
  control: string;
}

/**
 * Keys of the limits shared by every edge (limits.ts). Each script touches keys of one hash tag only: a
 * key's two keys share `{key id}`; a session's connection count shares the session's own `{id}`.
 */
export interface LimitKeys {
  /** Sorted set: sessions created by an API key in the last minute (score: ms). */
  created(keyId: string): string;
  /** Sorted set: the key's sessions that have not ended (score: lease expiry, ms). */
  running(keyId: string): string;
  /** Hash: open SSE connections from one client address, counted per edge. */
  ipConnections(ip: string): string;
  /** Hash: open SSE connections to one session, counted per edge. */
  sessionConnections(sessionId: string): string;
  /** Sorted set: live edges (score: last heartbeat, ms). */
  readonly edges: string;
  /** String: a subject's status-read rate (rate-1.lua); `subject` is `ip:<address>` or `t:<token hash>`. */
  reads(subject: string): string;
}

export interface KeySpace {
  readonly prefix: string;
  session(id: string): SessionKeys;
  readonly limits: LimitKeys;
  /** BullMQ queue prefix; hash-tagged so every queue key lands in one slot, as BullMQ requires on a cluster. */
  readonly queuePrefix: string;
  readonly queueName: string;
  /** Keys of the publish API (issue 20). */
  readonly publish: PublishKeys;
  /** Keys of the OpenAI-compatible and AI SDK surfaces (services/edge/src/compat). */
  readonly compat: CompatKeys;
}

/** Keys of producer-owned sessions beyond the session's own (publish/*.lua). */
export interface PublishKeys {
  /** String: the API key's publish rate cell (publish-rate-1.lua); hash tag: the key id. */
  rate(keyId: string): string;
  /** Sorted set: open producer sessions by idle deadline (score: ms), swept by every edge. */
  readonly deadlines: string;
}

export interface CompatKeys {
  /** String (JSON): the Responses request fields a retrieved Response repeats; shares the session's `{id}`. */
  response(sessionId: string): string;
  /** String: the session of a chat's latest turn, per tenant (AI SDK resume). */
  chat(tenant: string, chatId: string): string;
  /** String: the tenant that first used an AI SDK chat id (chat-owner-1.lua); a chat id is one tenant's. */
  chatOwner(chatId: string): string;
}

export function keySpace(prefix: string): KeySpace {
  if (!/^[A-Za-z0-9:_-]{1,64}$/.test(prefix)) throw new Error(`invalid key prefix ${JSON.stringify(prefix)}`);
  return {
    prefix,
    session(id) {
      const base = `${prefix}:s:{${id}}`;
      return { stream: `${base}:events`, meta: `${base}:meta`, live: `${base}:live`, control: `${base}:control` };
    },
    limits: {
      created: (keyId) => `${prefix}:key:{${keyId}}:created`,
      running: (keyId) => `${prefix}:key:{${keyId}}:running`,
      ipConnections: (ip) => `${prefix}:ip:{${ip}}:conns`,
      sessionConnections: (id) => `${prefix}:s:{${id}}:conns`,
      edges: `${prefix}:edges`,
      reads: (subject) => `${prefix}:rd:{${subject}}`,
    },
    queuePrefix: `{${prefix}:q}`,
    queueName: 'generate',
    publish: {
      rate: (keyId) => `${prefix}:key:{${keyId}}:publish-rate`,
      deadlines: `${prefix}:producers`,
    },
    compat: {
      response: (id) => `${prefix}:s:{${id}}:oai`,
      // The tenant and chat id are checked by the edge (no braces, colons or spaces), so the tag is theirs alone.
      chat: (tenant, chatId) => `${prefix}:chat:{${tenant}:${chatId}}`,
      chatOwner: (chatId) => `${prefix}:chat-owner:{${chatId}}`,
    },
  };
}
