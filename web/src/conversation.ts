import type { Message, SessionRef } from '@relaycast/client';

/** Turns kept; older ones are dropped (local storage is a few MB, and the history is sent every turn). */
const MAX_TURNS = 50;
const STORAGE_KEY = 'relaycast.conversation';

export type TurnStatus = 'sending' | 'streaming' | 'done' | 'error' | 'cancelled' | 'closed';

export interface ToolCallView {
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}

/** One question and its answer, with what is needed to resume the answer after a reload. */
export interface Turn {
  prompt: string;
  status: TurnStatus;
  session?: SessionRef;
  text: string;
  thinking: string;
  toolCalls: ToolCallView[];
  /** The id of the last event whose effect is in `text`/`thinking`/`toolCalls` (saved together with them). */
  lastEventId?: string;
  /** How it ended, in words. */
  outcome?: string;
  events: number;
  connections: number;
  duplicates: number;
}

export interface Conversation {
  turns: Turn[];
}

export function newTurn(prompt: string): Turn {
  return { prompt, status: 'sending', text: '', thinking: '', toolCalls: [], events: 0, connections: 0, duplicates: 0 };
}

/** The messages for the newest turn: every earlier question and its answer (when it has one), then the question. */
export function history(c: Conversation): Message[] {
  const out: Message[] = [];
  c.turns.forEach((t, i) => {
    out.push({ role: 'user', content: t.prompt });
    if (i < c.turns.length - 1 && t.text) out.push({ role: 'assistant', content: t.text });
  });
  return out;
}

export function load(): Conversation {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    const c = raw ? (JSON.parse(raw) as Conversation) : undefined;
    if (c && Array.isArray(c.turns)) return c;
  } catch {
    /* unreadable or storage disabled: start empty */
  }
  return { turns: [] };
}

/** Saves the conversation; false when storage refuses (disabled, or full). */
export function save(c: Conversation): boolean {
  if (c.turns.length > MAX_TURNS) c.turns.splice(0, c.turns.length - MAX_TURNS);
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(c));
    return true;
  } catch {
    return false;
  }
}

export function clear(): void {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage disabled */
  }
}
