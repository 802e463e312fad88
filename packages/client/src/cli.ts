import { parseArgs } from 'node:util';
import { RelaycastClient } from './client.js';
import { RelaycastHttpError, RelaycastNetworkError } from './errors.js';
import type { Subscription } from './subscription.js';
import type { CreateSessionRequest, MockControls, SubscriptionResult } from './types.js';

/** Exit codes (documented in packages/client/README.md). */
export const EXIT = {
  done: 0,
  /** The session ended with an `error` event (the model or the system failed). */
  error: 1,
  /** Bad arguments. */
  usage: 2,
  cancelled: 3,
  /** The server could not be reached, refused the request, or the stream could not be followed. */
  unavailable: 4,
  /** Interrupted (a second Ctrl-C, or Ctrl-C while watching). */
  interrupted: 130,
} as const;

const USAGE = `Usage:
  relaycast ask "<prompt>" [--model <m>] [--max-tokens <n>] [--mock '<json>'] [--url <url>] [--key <api key>]
  relaycast watch <session-id> [--token <t>] [--last-event-id <id>] [--url <url>] [--key <api key>]

Streams the answer to stdout and progress to stderr; both resume across dropped connections.
  --url        the edge or load balancer (default $RELAYCAST_URL or http://127.0.0.1:8080)
  --key        an API key (default $RELAYCAST_API_KEY; npm start prints a development one). ask needs it;
               with it, a stream whose token expires goes on with a fresh token
  --token      watch: the session's subscribe token (ask prints it); not needed with --key
  --mock       mock-model controls, e.g. '{"intervalMs":50,"fault":"error:5"}'
  --quiet      no progress on stderr
Ctrl-C during ask cancels the session (a second one exits at once); during watch it only stops watching.
Exit codes: 0 done, 1 error event, 2 usage, 3 cancelled, 4 unreachable or stream lost, 130 interrupted.`;

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
  /** Registers a Ctrl-C handler; returns a function that removes it. */
  onInterrupt(handler: () => void): () => void;
}

const processIo: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onInterrupt(handler) {
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
};

class UsageError extends Error {}

const OPTIONS = {
  model: { type: 'string' },
  'max-tokens': { type: 'string' },
  mock: { type: 'string' },
  url: { type: 'string' },
  key: { type: 'string' },
  token: { type: 'string' },
  'last-event-id': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;
const FLAGS = new Set(Object.entries(OPTIONS).flatMap(([name, o]) => [`--${name}`, ...('short' in o ? [`-${o.short}`] : [])]));

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let parsed;
  // Session ids are base64url and may begin with "-": the word after `watch` is the id unless it is one of
  // the options, so parseArgs never mistakes it for a flag.
  let args = argv;
  let watchId: string[] = [];
  if (argv[0] === 'watch' && argv[1] !== undefined && !FLAGS.has(argv[1].split('=')[0]!)) {
    watchId = [argv[1]];
    args = [argv[0], ...argv.slice(2)];
  }
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [command, ...others] = positionals;
  const rest = [...watchId, ...others];
  if (v.help) {
    io.stdout.write(`${USAGE}\n`);
    return EXIT.done;
  }
  const log = v.quiet ? () => undefined : (s: string) => io.stderr.write(`relaycast: ${s}\n`);
  const baseUrl = v.url ?? io.env.RELAYCAST_URL ?? 'http://127.0.0.1:8080';
  try {
    const rc = new RelaycastClient({
      baseUrl,
      ...((v.key ?? io.env.RELAYCAST_API_KEY) ? { apiKey: (v.key ?? io.env.RELAYCAST_API_KEY)! } : {}),
    });
    if (command === 'ask') {
      if (rest.length !== 1 || !rest[0]) throw new UsageError('ask takes one prompt (quote it)');
      return await ask(rc, { prompt: rest[0], model: v.model, maxTokens: v['max-tokens'], mock: v.mock }, io, log);
    }
    if (command === 'watch') {
      if (rest.length !== 1 || !rest[0]) throw new UsageError('watch takes one session id');
      const sub = rc.subscribe({ id: rest[0], ...(v.token ? { token: v.token } : {}) }, v['last-event-id'] !== undefined ? { lastEventId: v['last-event-id'] } : {});
      // Ctrl-C only stops watching: the session goes on for everyone else.
      return await follow(sub, io, log, () => true);
    }
    throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'missing command');
  } catch (e) {
    if (e instanceof UsageError) return usage(io, e.message);
    // Node's fetch says only "fetch failed" when nothing listens: name the address and how to change it.
    if (e instanceof RelaycastNetworkError) {
      log(`cannot reach ${baseUrl}; set RELAYCAST_URL or --url (${e.message})`);
      return EXIT.unavailable;
    }
    if (e instanceof RelaycastHttpError) {
      log(`${e.status} ${e.code}: ${e.message}`);
      if (e.status === 401) log(KEY_HINT);
      return EXIT.unavailable;
    }
    throw e;
  }
}

const KEY_HINT = 'pass an API key with --key or $RELAYCAST_API_KEY (npm start prints a development key)';

function usage(io: CliIo, message: string): number {
  io.stderr.write(`relaycast: ${message}\n\n${USAGE}\n`);
  return EXIT.usage;
}

async function ask(rc: RelaycastClient, a: { prompt: string; model?: string | undefined; maxTokens?: string | undefined; mock?: string | undefined }, io: CliIo, log: (s: string) => void): Promise<number> {
  const req: CreateSessionRequest = { messages: [{ role: 'user', content: a.prompt }] };
  if (a.model) req.model = a.model;
  if (a.maxTokens !== undefined) {
    const n = Number(a.maxTokens);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError('--max-tokens must be a positive integer');
    req.max_tokens = n;
  }
  if (a.mock !== undefined) {
    try {
      req.mock = JSON.parse(a.mock) as MockControls;
    } catch {
      throw new UsageError('--mock must be a JSON object');
    }
  }
  const session = await rc.createSession(req);
  log(`session ${session.id}${session.token ? ` (watch it: relaycast watch ${session.id} --token ${session.token})` : ` (watch it: relaycast watch ${session.id})`}`);
  const sub = rc.subscribe(session);
  return follow(sub, io, log, (n) => {
    if (n > 1) return true;
    // First Ctrl-C: an explicit cancel (a dropped connection never cancels); the stream then ends with
    // `cancelled`. A second one stops waiting.
    log('cancelling (Ctrl-C again to quit at once)');
    rc.cancel(session).catch((e: Error) => log(`cancel failed: ${e.message}`));
    return false;
  });
}

/**
 * Streams deltas to stdout (a reset is marked on stderr and the restarted answer follows) and maps the
 * result to an exit code. `onInterrupt(n)` runs on the n-th Ctrl-C; returning true stops following.
 */
async function follow(sub: Subscription, io: CliIo, log: (s: string) => void, onInterrupt: (n: number) => boolean): Promise<number> {
  let interrupts = 0;
  const off = io.onInterrupt(() => {
    if (onInterrupt(++interrupts)) sub.close();
  });
  try {
    return await followed(sub, io, log);
  } finally {
    off();
  }
}

async function followed(sub: Subscription, io: CliIo, log: (s: string) => void): Promise<number> {
  let atLineStart = true;
  sub.on('delta', (e) => {
    if (!e.text) return;
    io.stdout.write(e.text);
    atLineStart = e.text.endsWith('\n');
  });
  const newline = () => {
    if (!atLineStart) io.stdout.write('\n');
    atLineStart = true;
  };
  sub.on('reset', (e) => {
    newline();
    log(`the answer restarts (attempt ${e.attempt}, ${e.reason}); discard the text above`);
  });
  sub.on('gap', (e) => log(`events after ${e.requested} up to ${e.resumedFrom} are gone: the answer has a hole`));
  sub.on('connection', (c) => {
    if (c.kind === 'lost') log(`connection lost after event ${c.lastEventId ?? '-'}; resuming`);
    else if (c.kind === 'reopening') log(`reconnecting from event ${c.lastEventId ?? '-'} (attempt ${c.attempt}, in ${c.delayMs} ms)`);
    else if (c.kind === 'token_refreshed') log('subscribe token refreshed');
    else if (c.kind === 'open' && c.resumed) log(`resumed after event ${c.lastEventId ?? '-'}`);
  });
  const r = await sub.result;
  newline();
  log(summary(r));
  // A watcher's token expired, or none was given: say what would let it follow the session.
  if (r.error?.code === 'unauthorized') log('to follow it, pass its --token (relaycast ask prints it), or an API key of its owner with --key or $RELAYCAST_API_KEY');
  if (r.status === 'done') return EXIT.done;
  if (r.status === 'cancelled') return EXIT.cancelled;
  if (r.status === 'closed') return EXIT.interrupted;
  return r.error?.source === 'server' ? EXIT.error : EXIT.unavailable;
}

function summary(r: SubscriptionResult): string {
  const usage = r.usage ? `, ${r.usage.outputTokens} tokens${r.usage.estimated ? ' (estimated)' : ''}` : '';
  if (r.status === 'done') return `done (${r.finishReason ?? 'finished'}${usage})`;
  if (r.status === 'cancelled') return `cancelled${r.cancelReason ? ` (${r.cancelReason})` : ''}`;
  if (r.status === 'closed') return 'stopped watching';
  return `error ${r.error?.code ?? ''}: ${r.error?.message ?? ''}`;
}
