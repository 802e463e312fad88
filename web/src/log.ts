import type { StreamEvent } from '@relaycast/client';

/** The log keeps this many entries; older ones are dropped from the DOM (the counters above it keep counting). */
const MAX_ENTRIES = 1_000;
const PREVIEW_CHARS = 80;

/** The live event log: one entry per received event (id, type, payload) and per connection change. */
export class EventLog {
  constructor(private readonly list: HTMLOListElement) {}

  clear(): void {
    this.list.replaceChildren();
  }

  event(e: StreamEvent): void {
    const { id, type, ...payload } = e;
    const li = this.entry(`ev ev-${type}`);
    li.dataset.id = id ?? '';
    li.dataset.type = type;
    li.append(span('id', id !== undefined ? `#${id}` : '#–'), span('type', type), span('data', preview(payload)));
  }

  note(text: string, kind: 'info' | 'warn' = 'info'): void {
    const li = this.entry(`note note-${kind}`);
    li.append(span('type', '•'), span('data', text));
  }

  private entry(className: string): HTMLLIElement {
    const li = document.createElement('li');
    li.className = className;
    this.list.append(li);
    while (this.list.childElementCount > MAX_ENTRIES) this.list.firstElementChild?.remove();
    // Follow the newest entry unless the reader scrolled up to look at older ones.
    const nearBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
    if (nearBottom) this.list.scrollTop = this.list.scrollHeight;
    return li;
  }
}

function span(className: string, text: string): HTMLSpanElement {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

function preview(payload: object): string {
  const json = JSON.stringify(payload);
  return json.length > PREVIEW_CHARS ? `${json.slice(0, PREVIEW_CHARS - 1)}…` : json;
}
