import './style.css';
import { RelaycastClient, RelaycastHttpError, type CreateSessionRequest, type SessionRef, type Subscription, type SubscriptionResult, type SubscriptionState } from '@relaycast/client';
import { parseFragment, shareUrl, withoutKey } from './fragment.js';
import { EventLog } from './log.js';

const byId = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`index.html has no #${id}`);
  return e as T;
};

const ui = {
  form: byId<HTMLFormElement>('ask-form'),
  askPanel: byId<HTMLElement>('ask-panel'),
  prompt: byId<HTMLTextAreaElement>('prompt'),
  model: byId<HTMLSelectElement>('model'),
  maxTokens: byId<HTMLInputElement>('max-tokens'),
  apiKey: byId<HTMLInputElement>('api-key'),
  settings: byId<HTMLDetailsElement>('settings'),
  useMock: byId<HTMLInputElement>('use-mock'),
  interval: byId<HTMLInputElement>('interval'),
  fault: byId<HTMLInputElement>('fault'),
  send: byId<HTMLButtonElement>('send'),
  stop: byId<HTMLButtonElement>('stop'),
  state: byId<HTMLElement>('state'),
  stateLabel: byId<HTMLElement>('state-label'),
  notices: byId<HTMLElement>('notices'),
  answer: byId<HTMLElement>('answer'),
  thinkingPanel: byId<HTMLDetailsElement>('thinking-panel'),
  thinking: byId<HTMLElement>('thinking'),
  drop: byId<HTMLButtonElement>('drop'),
  shareLink: byId<HTMLInputElement>('share-link'),
  copyShare: byId<HTMLButtonElement>('copy-share'),
  openShare: byId<HTMLAnchorElement>('open-share'),
  viewerBanner: byId<HTMLElement>('viewer-banner'),
  viewerSession: byId<HTMLElement>('viewer-session'),
  statEvents: byId<HTMLElement>('stat-events'),
  statLastId: byId<HTMLElement>('stat-last-id'),
  statConnections: byId<HTMLElement>('stat-connections'),
  statDuplicates: byId<HTMLElement>('stat-duplicates'),
};
const log = new EventLog(byId<HTMLOListElement>('log'));

const KEY_STORAGE = 'relaycast.apiKey';
const MAX_NOTICES = 6;

let client: RelaycastClient;
let current: { sub: Subscription; ref: SessionRef; viewer: boolean } | undefined;

const STATE_TEXT: Record<SubscriptionState | 'idle', string> = {
  idle: 'idle',
  connecting: 'connecting',
  live: 'live',
  resuming: 'resuming',
  done: 'done',
  error: 'error',
  cancelled: 'cancelled',
  closed: 'closed',
};

function setState(state: SubscriptionState | 'idle'): void {
  ui.state.dataset.state = state;
  ui.stateLabel.textContent = STATE_TEXT[state];
}

function notice(text: string, kind: 'info' | 'warn' | 'error' | 'ok' = 'info'): void {
  const p = document.createElement('p');
  p.className = `notice notice-${kind}`;
  // Errors interrupt (alert); everything else is announced politely (status).
  p.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  p.textContent = text;
  ui.notices.append(p);
  while (ui.notices.childElementCount > MAX_NOTICES) ui.notices.firstElementChild?.remove();
}

function storedKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return ''; // storage disabled: the key lives in the field only
  }
}

function storeKey(key: string): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    /* storage disabled */
  }
}

function makeClient(): void {
  const key = ui.apiKey.value.trim();
  client = new RelaycastClient(key ? { apiKey: key } : {});
}

/**
 * The picker lists `GET /v1/models` when the server has it and there is a key to ask with (the endpoint
 * answers 401 without one); otherwise "default".
 */
async function loadModels(): Promise<void> {
  let models: Awaited<ReturnType<RelaycastClient['models']>>;
  try {
    models = client.apiKey ? await client.models() : undefined;
  } catch {
    models = undefined;
  }
  const previous = ui.model.value;
  const options = models?.length ? models.map((m) => option(m.id, m.description ? `${m.id} (${m.description})` : m.id)) : [option('', 'default')];
  ui.model.replaceChildren(...options);
  if (options.some((o) => o.value === previous)) ui.model.value = previous;
}

function option(value: string, label: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label;
  return o;
}

function request(): CreateSessionRequest | undefined {
  const prompt = ui.prompt.value.trim();
  if (!prompt) {
    notice('Type a prompt first.', 'warn');
    ui.prompt.focus();
    return undefined;
  }
  const req: CreateSessionRequest = { messages: [{ role: 'user', content: prompt }] };
  if (ui.model.value) req.model = ui.model.value;
  const max = Number(ui.maxTokens.value);
  if (ui.maxTokens.value && Number.isInteger(max) && max > 0) req.max_tokens = max;
  if (ui.useMock.checked) {
    const mock: NonNullable<CreateSessionRequest['mock']> = {};
    const interval = Number(ui.interval.value);
    if (ui.interval.value && Number.isInteger(interval) && interval >= 0) mock.intervalMs = interval;
    const fault = ui.fault.value.trim();
    if (fault) mock.fault = fault;
    if (Object.keys(mock).length) req.mock = mock;
  }
  return req;
}

async function send(): Promise<void> {
  const req = request();
  if (!req) return;
  // A key typed (or pasted) and sent at once, before the field's change event: use what the field holds.
  if (ui.apiKey.value.trim() !== (client.apiKey ?? '')) keyChanged();
  resetOutput();
  setState('connecting');
  ui.send.disabled = true;
  try {
    const session = await client.createSession(req);
    follow(session, false);
  } catch (e) {
    setState('error');
    if (e instanceof RelaycastHttpError && e.status === 401) return askForKey(e);
    const what = e instanceof RelaycastHttpError ? `${e.status} ${e.code}: ${e.message}` : (e as Error).message;
    notice(`Could not start the session. ${what}`, 'error');
  } finally {
    ui.send.disabled = false;
  }
}

/** The server refused the key (or its absence): say where a key comes from, and show the field. */
function askForKey(e: RelaycastHttpError): void {
  const why = client.apiKey ? `The API key was refused (${e.message}).` : 'This server needs an API key to start a session.';
  notice(`${why} Enter the key printed by npm start in the API key field (or open the page from the URL npm start prints, ending in #key=…).`, 'error');
  ui.settings.open = true;
  ui.apiKey.focus();
}

function resetOutput(): void {
  current?.sub.close();
  current = undefined;
  ui.answer.replaceChildren();
  ui.notices.replaceChildren();
  ui.thinking.textContent = '';
  ui.thinkingPanel.hidden = true;
  log.clear();
  for (const s of [ui.statEvents, ui.statConnections, ui.statDuplicates]) s.textContent = '0';
  ui.statLastId.textContent = '–';
  ui.shareLink.value = '';
  ui.copyShare.disabled = true;
  ui.openShare.hidden = true;
}

/** Follows a session: streams the answer into the page, logs every event, shows every state change. */
function follow(ref: SessionRef, viewer: boolean): void {
  if (current) resetOutput();
  const sub = client.subscribe(ref);
  current = { sub, ref, viewer };
  const mine = () => current?.sub === sub;
  let events = 0;

  const showLink = () => {
    const link = shareUrl(location.origin, ref.id, sub.token);
    ui.shareLink.value = link;
    ui.openShare.href = link;
  };
  showLink();
  ui.openShare.hidden = false;
  ui.copyShare.disabled = false;
  ui.stop.disabled = viewer;
  ui.drop.disabled = false;
  ui.answer.setAttribute('aria-busy', 'true');
  setState(sub.state);

  sub.on('state', ({ state }) => {
    if (!mine()) return;
    setState(state);
    log.note(`state: ${state}`);
  });
  sub.on('delta', (e) => {
    if (mine()) ui.answer.append(e.text);
  });
  sub.on('reset', (e) => {
    if (!mine()) return;
    ui.answer.replaceChildren();
    ui.thinking.textContent = '';
    notice(`The answer restarted (attempt ${e.attempt}, ${e.reason}): the partial answer was cleared.`, 'warn');
  });
  sub.on('gap', (e) => {
    if (mine()) notice(`Events after #${e.requested} up to #${e.resumedFrom} were lost: the answer may be missing text.`, 'warn');
  });
  sub.on('thinking', (e) => {
    if (!mine()) return;
    ui.thinkingPanel.hidden = false;
    ui.thinking.append(e.text);
  });
  sub.on('event', (e) => {
    if (!mine()) return;
    log.event(e);
    ui.statEvents.textContent = String(++events);
    ui.statLastId.textContent = sub.lastEventId ?? '–';
    ui.statDuplicates.textContent = String(sub.duplicates);
  });
  sub.on('connection', (c) => {
    if (!mine()) return;
    ui.statConnections.textContent = String(sub.connections);
    ui.statDuplicates.textContent = String(sub.duplicates);
    const after = c.lastEventId ? ` after #${c.lastEventId}` : '';
    if (c.kind === 'open') log.note(c.resumed ? `connected: resumed${after}` : 'connected');
    else if (c.kind === 'lost') log.note(`connection lost${after}; the browser reconnects with Last-Event-ID`, 'warn');
    else if (c.kind === 'dropped') log.note(`connection dropped by you${after}; resuming with lastEventId`, 'warn');
    else if (c.kind === 'reopening') log.note(`stream refused; reopening in ${c.delayMs} ms (attempt ${c.attempt})`, 'warn');
    else if (c.kind === 'token_refreshed') {
      // A share link carries the token: hand out the fresh one from now on.
      showLink();
      log.note('subscribe token refreshed');
    }
    else if (c.kind === 'failed') log.note(`gave up: ${c.message ?? ''}`, 'warn');
  });
  void sub.result.then((r) => {
    if (mine()) finished(r, viewer);
  });
}

function finished(r: SubscriptionResult, viewer: boolean): void {
  // The client's text is authoritative (it also covers a session that was over before this tab joined).
  ui.answer.textContent = r.text;
  ui.answer.setAttribute('aria-busy', 'false');
  ui.stop.disabled = true;
  ui.drop.disabled = true;
  if (r.status === 'done') {
    const tokens = r.usage ? `, ${r.usage.outputTokens} tokens` : '';
    notice(`Done (${r.finishReason ?? 'finished'}${tokens}).`, 'ok');
  } else if (r.status === 'cancelled') {
    notice(`Stopped: the generation was cancelled${r.cancelReason ? ` (${r.cancelReason})` : ''}.`, 'warn');
  } else if (r.status === 'error') {
    const e = r.error!;
    if (e.source === 'client' && e.code === 'unauthorized') {
      // The token expired (the edge ended the stream) or was never valid, and this tab holds no key to mint one.
      notice(viewer
        ? 'The subscribe token in this share link was refused: it has expired or is not valid. Ask whoever shared the link for a fresh one.'
        : `Could not follow the stream: ${e.message}. Enter the key printed by npm start in the API key field.`, 'error');
    } else {
      notice(e.source === 'server' ? `Error ${e.code}: ${e.message}` : `Could not follow the stream (${e.code}): ${e.message}`, 'error');
    }
  }
}

async function stop(): Promise<void> {
  const c = current;
  if (!c || c.viewer) return;
  ui.stop.disabled = true;
  notice('Stopping…');
  try {
    // The subscription's token: it may have minted a fresher one than the create answer's.
    await client.cancel({ ...c.ref, token: c.sub.token });
  } catch (e) {
    notice(`Could not stop: ${(e as Error).message}`, 'error');
    ui.stop.disabled = false;
  }
}

/** `#session=…&token=…` opens that session as a viewer; anything else is the chat. */
function route(): void {
  const f = parseFragment(location.hash);
  const viewer = f.session !== undefined;
  ui.askPanel.hidden = viewer;
  ui.viewerBanner.hidden = !viewer;
  if (f.session === undefined) return;
  if (current?.ref.id === f.session) return;
  ui.viewerSession.textContent = f.session;
  follow({ id: f.session, ...(f.token ? { token: f.token } : {}) }, true);
}

function keyChanged(): void {
  storeKey(ui.apiKey.value.trim());
  makeClient();
  void loadModels();
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
  void loadModels();

  ui.apiKey.addEventListener('change', keyChanged);
  ui.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey && !e.isComposing) {
      e.preventDefault();
      ui.form.requestSubmit();
    }
  });
  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });
  ui.stop.addEventListener('click', () => void stop());
  ui.drop.addEventListener('click', () => current?.sub.reconnect());
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
  route();
}

init();
