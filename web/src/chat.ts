import type { RelaycastClient, Subscription, SubscriptionResult } from '@relaycast/client';
import type { Turn } from './conversation.js';
import { shareUrl } from './fragment.js';
import type { EventLog } from './log.js';
import type { Retry } from './retry.js';
import { outcome } from './states.js';
import type { TurnView } from './turn-view.js';
import { followBottom, notice, setState, ui } from './ui.js';

/** How long the browser's own reconnecting may go on before the page takes over with its countdown. */
const RESUME_TIMEOUT_MS = 10_000;

export interface Active {
  turn: Turn;
  view: TurnView;
  viewer: boolean;
  sub?: Subscription;
}

export interface FollowDeps {
  client(): RelaycastClient;
  persist(): void;
  log: EventLog;
  retry: Retry;
  ended(a: Active): void;
}

export function showStats(t: Turn, lastEventId = t.lastEventId): void {
  ui.statEvents.textContent = String(t.events);
  ui.statLastId.textContent = lastEventId ?? '–';
  ui.statConnections.textContent = String(t.connections);
  ui.statDuplicates.textContent = String(t.duplicates);
}

/**
 * Follows the answer of `a.turn` from its last saved event id (none for a new one): the subscription's text
 * starts from what is saved, so the saved answer and what follows join exactly. Each event updates the turn,
 * saves it and schedules a render. When the edge cannot be reached for a while, the page retries on a
 * countdown from the last event id, for as long as it takes.
 */
export function follow(a: Active, deps: FollowDeps): void {
  const t = a.turn;
  const ref = { ...t.session!, ...(t.session?.token ? { token: t.session.token } : {}) };
  const sub = deps.client().subscribe(ref, { ...(t.lastEventId !== undefined ? { lastEventId: t.lastEventId } : {}), text: t.text, thinking: t.thinking, resumeTimeoutMs: RESUME_TIMEOUT_MS });
  a.sub = sub;
  const mine = () => a.sub === sub;
  const baseDuplicates = t.duplicates;
  const showLink = () => {
    const link = shareUrl(location.origin, ref.id, sub.token);
    ui.shareLink.value = link;
    ui.openShare.href = link;
  };
  showLink();
  ui.openShare.hidden = false;
  ui.copyShare.disabled = false;
  ui.stop.disabled = a.viewer;
  ui.drop.disabled = false;
  setState(sub.state);

  sub.on('state', ({ state }) => {
    if (!mine()) return;
    setState(state);
    deps.log.note(`state: ${state}`);
  });
  sub.on('reset', (e) => {
    if (mine()) notice(`The answer restarted (attempt ${e.attempt}, ${e.reason}): the partial answer was cleared.`, 'warn');
  });
  sub.on('gap', (e) => {
    if (mine()) notice(`Events after #${e.requested} up to #${e.resumedFrom} were lost: the answer may be missing text.`, 'warn');
  });
  sub.on('event', (e) => {
    if (!mine()) return;
    t.text = sub.text;
    t.thinking = sub.thinking;
    t.toolCalls = [...sub.toolCalls.values()].map((c) => ({ ...c }));
    t.lastEventId = sub.lastEventId;
    t.events++;
    t.duplicates = baseDuplicates + sub.duplicates;
    deps.persist();
    a.view.update(t);
    deps.log.event(e);
    showStats(t);
    followBottom();
  });
  sub.on('connection', (c) => {
    if (!mine()) return;
    const after = c.lastEventId ? ` after #${c.lastEventId}` : '';
    if (c.kind === 'open') {
      t.connections++;
      deps.retry.succeeded();
      deps.log.note(c.resumed || t.connections > 1 ? `connected: resumed${after}` : 'connected');
    } else if (c.kind === 'lost') deps.log.note(`connection lost${after}; the browser reconnects with Last-Event-ID`, 'warn');
    else if (c.kind === 'dropped') deps.log.note(`connection dropped by you${after}; resuming with lastEventId`, 'warn');
    else if (c.kind === 'reopening') deps.log.note(`stream refused; reopening in ${c.delayMs} ms (attempt ${c.attempt})`, 'warn');
    else if (c.kind === 'token_refreshed') {
      // A share link carries the token: hand out the fresh one from now on, and resume with it after a reload.
      if (t.session) t.session = { ...t.session, token: sub.token! };
      deps.persist();
      showLink();
      deps.log.note('subscribe token refreshed');
    } else if (c.kind === 'failed') deps.log.note(`gave up: ${c.message ?? ''}`, 'warn');
    showStats(t);
  });
  void sub.result.then((r) => {
    if (!mine()) return;
    if (r.status === 'error' && r.error?.source === 'client' && r.error.retryable) return offline(a, deps, r);
    finished(a, deps, r);
  });
}

/** The edge stayed unreachable: count down, then follow again from the last event id. */
function offline(a: Active, deps: FollowDeps, r: SubscriptionResult): void {
  setState('offline');
  deps.log.note(`cannot reach the server (${r.error?.message ?? ''}); retrying`, 'warn');
  deps.retry.schedule('Cannot reach the server: the answer goes on from where it stopped once it is back.', () => {
    if (a.sub?.state !== 'error') return;
    follow(a, deps);
  });
}

function finished(a: Active, deps: FollowDeps, r: SubscriptionResult): void {
  const t = a.turn;
  // The client's text is authoritative (it also covers a session that was over before this tab joined).
  t.text = r.text;
  t.status = r.status === 'closed' ? 'closed' : r.status;
  if (r.lastEventId !== undefined) t.lastEventId = r.lastEventId;
  t.outcome = outcome(r);
  if (r.status === 'error' && r.error?.source === 'client' && r.error.code === 'unauthorized') {
    // The token expired (the edge ended the stream) or was never valid, and this tab holds no key to mint one.
    t.outcome = a.viewer
      ? 'The subscribe token in this share link was refused: it has expired or is not valid. Ask whoever shared the link for a fresh one.'
      : `Could not follow the stream: ${r.error.message}. Enter the key printed by npm start in the API key field.`;
  }
  if (r.status === 'error') notice(t.outcome, 'error');
  deps.retry.cancel();
  deps.persist();
  a.view.renderNow();
  showStats(t);
  ui.stop.disabled = true;
  ui.drop.disabled = true;
  deps.ended(a);
}
