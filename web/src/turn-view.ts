import type { Turn } from './conversation.js';
import { renderMarkdown } from './markdown.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * One turn on screen: the question, then the answer (Markdown), the model's reasoning folded away above it,
 * its tool calls, and a line saying how it ended. Rendering is batched to one pass per frame (or 50 ms when
 * the tab is in the background and frames are not drawn).
 */
export class TurnView {
  readonly root = el('li', 'turn');
  private readonly answer = el('div', 'answer md');
  private readonly thinkingPanel = el('details', 'thinking-panel');
  private readonly thinking = el('pre', 'thinking');
  private readonly tools = el('ul', 'tool-calls');
  private readonly outcome = el('p', 'outcome');
  private pending: { raf: number; timer: ReturnType<typeof setTimeout> } | undefined;
  private rendered = { text: '\u0000', thinking: '\u0000', tools: '\u0000' };

  constructor(private turn: Turn) {
    if (turn.prompt) {
      const q = el('div', 'msg user');
      q.append(el('p', 'who visually-hidden', 'You said:'), el('div', 'bubble', turn.prompt));
      this.root.append(q);
    }
    const a = el('div', 'msg assistant');
    this.thinkingPanel.append(el('summary', '', 'Reasoning'), this.thinking);
    this.thinkingPanel.hidden = true;
    this.tools.hidden = true;
    this.tools.setAttribute('aria-label', 'Tool calls');
    a.append(el('p', 'who visually-hidden', 'Answer:'), this.thinkingPanel, this.answer, this.tools, this.outcome);
    this.root.append(a);
    this.renderNow();
  }

  /** The newest turn carries the ids the page's links and tests use, and is the live region. */
  setLatest(latest: boolean): void {
    const ids: [HTMLElement, string][] = [[this.answer, 'answer'], [this.thinkingPanel, 'thinking-panel'], [this.thinking, 'thinking']];
    for (const [e, id] of ids) {
      if (latest) e.id = id;
      else e.removeAttribute('id');
    }
    if (latest) {
      this.answer.setAttribute('aria-live', 'polite');
      this.answer.tabIndex = 0;
    } else {
      this.answer.removeAttribute('aria-live');
      this.answer.removeAttribute('tabindex');
    }
  }

  update(turn: Turn): void {
    this.turn = turn;
    if (this.pending) return;
    const run = () => this.renderNow();
    this.pending = { raf: requestAnimationFrame(run), timer: setTimeout(run, 50) };
  }

  renderNow(): void {
    if (this.pending) {
      cancelAnimationFrame(this.pending.raf);
      clearTimeout(this.pending.timer);
      this.pending = undefined;
    }
    const t = this.turn;
    if (t.text !== this.rendered.text) renderMarkdown(this.answer, t.text);
    if (t.thinking !== this.rendered.thinking) {
      this.thinking.textContent = t.thinking;
      this.thinkingPanel.hidden = !t.thinking;
    }
    const tools = JSON.stringify(t.toolCalls);
    if (tools !== this.rendered.tools) this.renderTools();
    this.rendered = { text: t.text, thinking: t.thinking, tools };
    const busy = t.status === 'sending' || t.status === 'streaming';
    this.answer.setAttribute('aria-busy', String(busy));
    this.root.dataset.status = t.status;
    this.outcome.textContent = t.outcome ?? '';
    this.outcome.hidden = !t.outcome;
  }

  private renderTools(): void {
    const items = this.turn.toolCalls.map((c) => {
      const li = el('li', 'tool-call');
      li.append(el('span', 'tool-label', 'Tool call'), el('code', 'tool-name', c.name ?? `#${c.index}`), el('pre', 'tool-args', prettyJson(c.arguments)));
      return li;
    });
    this.tools.replaceChildren(...items);
    this.tools.hidden = items.length === 0;
  }
}

/** Arguments arrive as JSON text in pieces: indented once they parse, as they are until then. */
function prettyJson(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}
