import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { TOKEN_PREFIX, TokenError } from '../tokens.js';
import type { ApiKeyEntry } from '../api-keys.js';
import { ChatOwners } from '@relaycast/store';
import type { AppDeps } from '../app.js';
import { bindCaller } from '../request-log.js';
import { mockSchema } from '../routes/sessions.js';
import { isToolIssue, jobTools, toolChoiceSchema, toolsSchema } from '../routes/tools-schema.js';
import { stopList, stopSchema } from '../stop-param.js';
import { SESSION_HEADER } from './answer.js';
import { sendNativeError } from './errors.js';
import { checkMessages } from './input.js';
import { cancelSession } from './session.js';
import { startSession } from './start.js';
import { ProtocolSubscriber, follow, startSse } from './stream.js';
import { UiChunks, type UiChunk } from './ui-map.js';
import { uiMessages } from './ui-tools.js';

// The ids the `ai` package generates are alphanumeric; anything else that could break a URL or a key is refused.
const CHAT_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
/** Headers the AI SDK's own server helper sends (UI_MESSAGE_STREAM_HEADERS). */
const UI_HEADERS = { 'x-vercel-ai-ui-message-stream': 'v1' };

const uiPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const schema = z.strictObject({
  id: z.string().regex(CHAT_ID, 'a chat id of letters, digits, . _ - (at most 128)'),
  messages: z.array(z.looseObject({ id: z.string().optional(), role: z.enum(['system', 'user', 'assistant']), parts: z.array(uiPart) })).max(100_000),
  trigger: z.enum(['submit-message', 'regenerate-message']).optional(),
  messageId: z.string().optional(),
  model: z.string().max(64).optional(),
  max_tokens: z.number().int().positive().max(100_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
  seed: z.number().int().optional(),
  stop: stopSchema.nullable().optional(),
  mock: mockSchema.optional(),
  // The app's tools, in the native shape (docs/compat.md): the AI SDK itself sends none.
  tools: toolsSchema.optional(),
  tool_choice: toolChoiceSchema.optional(),
});

/** What proves a chat request: an API key, or a chat token minted for that one chat (claim `chat:<key id>:<chat id>`). */
interface ChatCaller {
  key: ApiKeyEntry;
  /** The only chat a token may touch; undefined for an API key. */
  chatId?: string;
}

const chatClaim = (keyId: string, chatId: string) => `chat:${keyId}:${chatId}`;

export function chatAuth(d: AppDeps) {
  const byId = new Map(d.cfg.apiKeys.map((k) => [k.id, k]));
  return (req: Request, res: Response, next: NextFunction): void => {
    const h = req.get('authorization');
    const credential = h === undefined ? undefined : (/^Bearer +(\S+) *$/i.exec(h)?.[1] ?? '');
    const challenge = { 'WWW-Authenticate': 'Bearer realm="relaycast"' };
    if (!credential) return sendNativeError(res, 'unauthorized', 'send an API key or a chat token: Authorization: Bearer …', challenge);
    let caller: ChatCaller | undefined;
    if (credential.startsWith(TOKEN_PREFIX)) {
      try {
        const claims = d.auth.tokens.verify(credential);
        const m = /^chat:([^:]+):(.+)$/.exec(claims.sessionId);
        const key = m ? byId.get(m[1]!) : undefined;
        if (m && key && key.tenant === claims.tenant) caller = { key, chatId: m[2]! };
      } catch (e) {
        if (!(e instanceof TokenError)) throw e;
        return sendNativeError(res, 'unauthorized', e.message, challenge);
      }
      if (!caller) return sendNativeError(res, 'unauthorized', 'not a chat token', challenge);
    } else {
      const key = d.auth.keys.lookup(credential);
      if (!key) return sendNativeError(res, 'unauthorized', 'unknown API key', challenge);
      caller = { key };
    }
    bindCaller(res, { tenant: caller.key.tenant, keyId: caller.key.id });
    res.locals.chatCaller = caller;
    next();
  };
}

const callerOf = (res: Response) => res.locals.chatCaller as ChatCaller;

/** Whether the caller may act on this chat; answers 403 when a token names another chat. */
function mayUse(res: Response, chatId: string): boolean {
  const c = callerOf(res);
  if (c.chatId === undefined || c.chatId === chatId) return true;
  sendNativeError(res, 'forbidden', 'this chat token belongs to another chat');
  return false;
}

/** `POST /ai-sdk/chat`: the DefaultChatTransport's send; starts the turn as a session and streams its UI chunks. */
export function chatHandler(d: AppDeps) {
  const reconciled = new Map<string, number>();
  const owners = new ChatOwners(d.redis, d.store.keys);
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = schema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return sendNativeError(res, isToolIssue(issue, req.body) ? 'invalid_tool' : 'invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const body = parsed.data;
    if (!mayUse(res, body.id)) return;
    // Text and answered tool calls are what the native request carries; reasoning and step parts are not sent back.
    const messages = uiMessages(body.messages);
    if ('filePart' in messages) return sendNativeError(res, 'unsupported_part', `messages.${messages.filePart}: file parts cannot be carried (docs/compat.md)`);
    const bad = checkMessages(d.cfg, messages, 'messages');
    if (bad) return sendNativeError(res, bad.code, bad.message);
    const key = callerOf(res).key;
    const chatKey = d.store.keys.compat.chat(key.tenant, body.id);
    const ttl = d.store.opts.openTtlSeconds + d.store.opts.retentionSeconds;
    // Claimed before the session starts, so another tenant's chat id never costs a generation.
    if (!(await owners.claim(body.id, key.tenant, ttl))) return notFound(res);
    const params = { max_tokens: body.max_tokens, temperature: body.temperature, seed: body.seed, stop: stopList(body.stop) };
    const started = await startSession(d, res, key, { model: body.model, messages, params, mock: body.mock, ...jobTools(body) }, reconciled, (id) => d.redis.set(chatKey, id, 'EX', ttl));
    if (!started.ok) return sendNativeError(res, started.code, started.message, started.headers);
    return streamTurn(d, req, res, started.id);
  };
}

const frame = (c: UiChunk) => Buffer.from(`data: ${JSON.stringify(c)}\n\n`);

/** The turn's UI message stream from its `start`, then live, ending with `[DONE]`. */
async function streamTurn(d: AppDeps, req: Request, res: Response, id: string): Promise<void> {
  const chunks = new UiChunks(id);
  const sub: ProtocolSubscriber = new ProtocolSubscriber(res, d, true, (e, s) => {
    for (const c of chunks.event(e)) s.send(frame(c));
  }, (how) => {
    if (how === 'terminal') sub.send(Buffer.from('data: [DONE]\n\n'));
  });
  const refused = await follow(d, req, res, id, sub, () => {
    startSse(req, res, { ...UI_HEADERS, [SESSION_HEADER]: id });
    for (const c of chunks.start()) sub.send(frame(c));
  });
  if (refused) sendNativeError(res, refused.code, refused.message, refused.headers);
}

/** The session of the chat's turn that is still running, if any. */
async function activeTurn(d: AppDeps, res: Response, chatId: string): Promise<{ id: string; meta: NonNullable<Awaited<ReturnType<AppDeps['store']['meta']>>> } | undefined> {
  const id = await d.redis.get(d.store.keys.compat.chat(callerOf(res).key.tenant, chatId));
  if (!id) return undefined;
  const meta = await d.store.meta(id);
  if (!meta || meta.terminal !== undefined || meta.tenant !== callerOf(res).key.tenant) return undefined;
  return { id, meta };
}

/** The same answer for a malformed chat id and another tenant's, so neither tells whether an id is in use. */
const notFound = (res: Response) => sendNativeError(res, 'chat_not_found', 'no such chat');

/** The path's chat id if it is well formed and, for a chat token, the token's chat. */
function pathChatId(req: Request, res: Response): string | undefined {
  const chatId = String(req.params.chatId);
  if (!CHAT_ID.test(chatId)) return void notFound(res);
  return mayUse(res, chatId) ? chatId : undefined;
}

/** The path's chat id if the caller may act on it: {@link pathChatId}, and not another tenant's. */
async function chatIdOf(req: Request, res: Response, owners: ChatOwners): Promise<string | undefined> {
  const chatId = pathChatId(req, res);
  if (chatId === undefined) return undefined;
  if (await owners.othersHold(chatId, callerOf(res).key.tenant)) return void notFound(res);
  return chatId;
}

/**
 * The chat id and its running turn, for a caller who may act on it. The turn is read beside the ownership
 * check, not after it: its key is the caller's tenant's own, so reading it early shows nothing, and a
 * reconnect pays no extra round trip for the check.
 */
async function turnOf(d: AppDeps, req: Request, res: Response, owners: ChatOwners): Promise<{ chatId: string; turn: Awaited<ReturnType<typeof activeTurn>> } | undefined> {
  const chatId = pathChatId(req, res);
  if (chatId === undefined) return undefined;
  const [others, turn] = await Promise.all([owners.othersHold(chatId, callerOf(res).key.tenant), activeTurn(d, res, chatId)]);
  if (others) return void notFound(res);
  return { chatId, turn };
}

/** `GET /ai-sdk/chat/:chatId/stream`: the transport's reconnect. Replays the running turn from its start; 204 when none runs. */
export function resumeHandler(d: AppDeps) {
  const owners = new ChatOwners(d.redis, d.store.keys);
  return async (req: Request, res: Response): Promise<void> => {
    const chat = await turnOf(d, req, res, owners);
    if (chat === undefined) return;
    if (!chat.turn) return void res.status(204).end();
    return streamTurn(d, req, res, chat.turn.id);
  };
}

/** `POST /ai-sdk/chat/:chatId/stop`: a disconnect never stops a turn; this does (the native cancel). */
export function stopHandler(d: AppDeps) {
  const owners = new ChatOwners(d.redis, d.store.keys);
  return async (req: Request, res: Response): Promise<void> => {
    const chat = await turnOf(d, req, res, owners);
    if (chat === undefined) return;
    const { chatId, turn } = chat;
    if (!turn) return void res.status(200).json({ chatId, stopped: false });
    const ended = await cancelSession(d, turn.id, turn.meta);
    res.status(202).json({ chatId, sessionId: turn.id, stopped: ended === false });
  };
}

/** `POST /ai-sdk/chat/:chatId/token` (API key only): a short-lived token for a browser, good for this chat alone. */
export function chatTokenHandler(d: AppDeps) {
  const owners = new ChatOwners(d.redis, d.store.keys);
  return async (req: Request, res: Response): Promise<void> => {
    const chatId = await chatIdOf(req, res, owners);
    if (chatId === undefined) return;
    const caller = callerOf(res);
    if (caller.chatId !== undefined) return sendNativeError(res, 'forbidden', 'a chat token cannot mint tokens; use an API key');
    const { token, expiresAt } = d.auth.mint(chatClaim(caller.key.id, chatId), caller.key.tenant);
    res.json({ chatId, token, tokenExpiresAt: expiresAt });
  };
}
