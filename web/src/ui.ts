import { STATE_WORDS, type PageState } from './states.js';

const byId = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`index.html has no #${id}`);
  return e as T;
};

export const ui = {
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
  transcript: byId<HTMLInputElement>('transcript'),
  send: byId<HTMLButtonElement>('send'),
  stop: byId<HTMLButtonElement>('stop'),
  newChat: byId<HTMLButtonElement>('new-chat'),
  state: byId<HTMLElement>('state'),
  stateLabel: byId<HTMLElement>('state-label'),
  offline: byId<HTMLElement>('offline'),
  offlineText: byId<HTMLElement>('offline-text'),
  retry: byId<HTMLButtonElement>('retry'),
  notices: byId<HTMLElement>('notices'),
  empty: byId<HTMLElement>('empty'),
  conversation: byId<HTMLOListElement>('conversation'),
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
  log: byId<HTMLOListElement>('log'),
};

const MAX_NOTICES = 6;

export function setState(state: PageState): void {
  ui.state.dataset.state = state;
  ui.stateLabel.textContent = STATE_WORDS[state];
}

export function notice(text: string, kind: 'info' | 'warn' | 'error' | 'ok' = 'info'): void {
  const p = document.createElement('p');
  p.className = `notice notice-${kind}`;
  // Errors interrupt (alert); everything else is announced politely (status).
  p.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  p.textContent = text;
  ui.notices.append(p);
  while (ui.notices.childElementCount > MAX_NOTICES) ui.notices.firstElementChild?.remove();
}

/** Keeps the newest message in view while it grows, unless the reader scrolled up to read something else. */
export function followBottom(): void {
  const doc = document.scrollingElement ?? document.documentElement;
  if (doc.scrollHeight - doc.scrollTop - window.innerHeight < 160) doc.scrollTop = doc.scrollHeight;
}
