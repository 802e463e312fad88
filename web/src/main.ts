import './style.css';
import { RelaycastClient, RelaycastHttpError, type CreateSessionRequest } from '@relaycast/client';
import { follow, showStats, type Active, type FollowDeps } from './chat.js';
import { clear, history as historyOf, load, newTurn, save, type Conversation, type Turn } from './conversation.js';
import { parseFragment, withoutKey } from './fragment.js';
import { EventLog } from './log.js';
import { Retry } from './retry.js';
import { TurnView } from './turn-view.js';
import { loadModels, storedKey, storeKey } from './settings.js';
import { followBottom, notice, setState, ui } from './ui.js';

let client: RelaycastClient;
let conversation: Conversation = { turns: [] };
let views: TurnView[] = [];
let active: Active | undefined;
let viewerMode = false;
let storageWarned = false;
const log = new EventLog(ui.log);
const retry = new Retry();

const deps: FollowDeps = {
  client: () => client,
  persist,
  log,
  retry,
  ended: () => {
    ui.send.disabled = false;
  },
};

function persist(): void {
  if (viewerMode) return;
  if (!save(conversation) && !storageWarned) {
    storageWarned = true;
    notice('This browser does not let the page save the conversation: a reload will lose it.', 'warn');
  }
}

function makeClient(): void {
  const key = ui.apiKey.value.trim();
  client = new RelaycastClient(key ? { apiKey: key } : {});
}

/** The request for the newest turn: the whole conversation so far, so the model sees the history. */
function request(): CreateSessionRequest {
  const req: CreateSessionRequest = { messages: historyOf(conversation) };
  if (ui.model.value) req.model = ui.model.value;
  const max = Number(ui.maxTokens.value);
  if (ui.maxTokens.value && Number.isInteger(max) && max > 0) req.max_tokens = max;
  if (ui.useMock.checked) {
    const mock: NonNullable<CreateSessionRequest['mock']> = {};
    const interval = Number(ui.interval.value);
    if (ui.interval.value && Number.isInteger(interval) && interval >= 0) mock.intervalMs = interval;
    const fault = ui.fault.value.trim();
    if (fault) mock.fault = fault;
    const transcript = ui.transcript.value.trim();
    if (transcript) mock.transcript = transcript;
    if (Object.keys(mock).length) req.mock = mock;
  }
  return req;
}

function addView(t: Turn): TurnView {
  views.at(-1)?.setLatest(false);
  const v = new TurnView(t);
  v.setLatest(true);
  views.push(v);
  ui.conversation.append(v.root);
  ui.empty.hidden = true;
  return v;
}

function beginTurn(): void {
  log.clear();
  ui.notices.replaceChildren();
  ui.shareLink.value = '';
  ui.copyShare.disabled = true;
  ui.openShare.hidden = true;
}

function send(): void {
  const prompt = ui.prompt.value.trim();
  if (!prompt) {
    notice('Type a message first.', 'warn');
    ui.prompt.focus();
    return;
  }
  // A key typed (or pasted) and sent at once, before the field's change event: use what the field holds.
  if (ui.apiKey.value.trim() !== (client.apiKey ?? '')) keyChanged();
  beginTurn();
  const t = newTurn(prompt);
  conversation.turns.push(t);
  persist();
  const view = addView(t);
  ui.prompt.value = '';
  showStats(t);
  followBottom();
  void start({ turn: t, view, viewer: false }, request());
}

/** Creates the turn's session and follows it; an unreachable edge is retried on a countdown. */
async function start(a: Active, req: CreateSessionRequest): Promise<void> {
  active = a;
  ui.send.disabled = true;
  setState('connecting');
  try {
    const session = await client.createSession(req);
    if (active !== a) return;
    retry.succeeded();
    a.turn.session = session;
    a.turn.status = 'streaming';
    persist();
    follow(a, deps);
  } catch (e) {
    if (active !== a) return;
    const status = e instanceof RelaycastHttpError ? e.status : 0;
    if (status === 0 || status === 429 || status >= 500) {
      setState('offline');
      const why = status ? `The server is busy (${status}): your message is kept.` : 'Cannot reach the server: your message is kept.';
      retry.schedule(why, () => void start(a, req));
      return;
    }
    unsent(a, e as RelaycastHttpError);
  }
}

/** Refused for good (a bad key, a bad request): the message goes back into the box, nothing is lost. */
function unsent(a: Active, e: RelaycastHttpError): void {
  setState('error');
  conversation.turns = conversation.turns.filter((t) => t !== a.turn);
  persist();
  views = views.filter((v) => v !== a.view);
  a.view.root.remove();
  views.at(-1)?.setLatest(true);
  ui.empty.hidden = views.length > 0;
  ui.prompt.value = a.turn.prompt;
  active = undefined;
  ui.send.disabled = false;
  if (e.status === 401) return askForKey(e);
  notice(`Could not start the session. ${e.status} ${e.code}: ${e.message}`, 'error');
}

/** The server refused the key (or its absence): say where a key comes from, and show the field. */
function askForKey(e: RelaycastHttpError): void {
  const why = client.apiKey ? `The API key was refused (${e.message}).` : 'This server needs an API key to start a session.';
  notice(`${why} Enter the key printed by npm start in the API key field (or open the page from the URL npm start prints, ending in #key=…).`, 'error');
  ui.settings.open = true;
  ui.apiKey.focus();
}

async function stop(): Promise<void> {
  const a = active;
  if (!a || a.viewer || !a.turn.session) return;
  ui.stop.disabled = true;
  try {
    // The subscription's token: it may have minted a fresher one than the create answer's.
    await client.cancel({ ...a.turn.session, ...(a.sub?.token ? { token: a.sub.token } : {}) });
  } catch (e) {
    notice(`Could not stop: ${(e as Error).message}`, 'error');
    ui.stop.disabled = false;
  }
}

/** Forgets the conversation on screen and in storage (its sessions run on for anyone following them). */
function newChat(): void {
  active?.sub?.close();
  active = undefined;
  retry.cancel();
  conversation = { turns: [] };
  clear();
  views = [];
  ui.conversation.replaceChildren();
  ui.empty.hidden = false;
  beginTurn();
  showStats(newTurn(''));
  ui.stop.disabled = true;
  ui.drop.disabled = true;
  ui.send.disabled = false;
  setState('idle');
  ui.prompt.focus();
}

/** The saved conversation, with an answer that was still streaming resumed from its last event id. */
function restore(): void {
  conversation = load();
  for (const t of conversation.turns) addView(t);
  const last = conversation.turns.at(-1);
  const view = views.at(-1);
  if (!last || !view) return;
  showStats(last);
  if (last.status === 'streaming' && last.session) {
    log.note(`restored from this browser; resuming after #${last.lastEventId ?? '–'}`);
    active = { turn: last, view, viewer: false };
    ui.send.disabled = true;
    follow(active, deps);
  } else if (last.status === 'sending') {
    // Closed before the server answered: the question was never sent for sure. Offer it again.
    unsent({ turn: last, view, viewer: false }, new RelaycastHttpError(0, 'not_sent', 'the page was closed before the server answered'));
  }
  followBottom();
}

/** `#session=…&token=…` opens that session as a viewer; anything else is the chat. */
function route(): void {
  const f = parseFragment(location.hash);
  viewerMode = f.session !== undefined;
  ui.askPanel.hidden = viewerMode;
  ui.newChat.hidden = viewerMode;
  ui.viewerBanner.hidden = !viewerMode;
  if (f.session === undefined) return;
  if (active?.turn.session?.id === f.session) return;
  active?.sub?.close();
  retry.cancel();
  views = [];
  ui.conversation.replaceChildren();
  ui.viewerSession.textContent = f.session;
  beginTurn();
  const t = newTurn('');
  t.status = 'streaming';
  t.session = { id: f.session, ...(f.token ? { token: f.token } : {}) };
  active = { turn: t, view: addView(t), viewer: true };
  follow(active, deps);
}

function keyChanged(): void {
  storeKey(ui.apiKey.value.trim());
  makeClient();
  void loadModels(client);
}

function init(): void {
  const f = parseFragment(location.hash);
  if (f.key) {
    ui.apiKey.value = f.key;
    storeKey(f.key);
    history.replaceState(null, '', location.pathname + location.search + withoutKey(location.hash));
  } else {
    ui.apiKey.value = storedKey();
  }
  // Without a key no session can start: show the field rather than let the first Send find out.
  if (!ui.apiKey.value) ui.settings.open = true;
  makeClient();
  void loadModels(client);

  ui.apiKey.addEventListener('change', keyChanged);
  ui.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey && !e.isComposing) {
      e.preventDefault();
      if (!ui.send.disabled) ui.form.requestSubmit();
    }
  });
  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!ui.send.disabled) send();
  });
  ui.stop.addEventListener('click', () => void stop());
  ui.drop.addEventListener('click', () => active?.sub?.reconnect());
  ui.newChat.addEventListener('click', newChat);
  ui.copyShare.addEventListener('click', () => {
    const url = ui.shareLink.value;
    const done = () => notice('Share link copied.');
    const fallback = () => {
      ui.shareLink.focus();
      ui.shareLink.select();
      notice('Share link selected: copy it with Ctrl+C.');
    };
    if (navigator.clipboard) navigator.clipboard.writeText(url).then(done, fallback);
    else fallback();
  });
  window.addEventListener('hashchange', route);
  if (parseFragment(location.hash).session === undefined) restore();
  route();
  // A chat opens ready to type (the key field, when there is no key, was opened above and is next in order).
  if (!viewerMode && ui.apiKey.value) ui.prompt.focus();
}

init();
