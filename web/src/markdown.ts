import DOMPurify from 'dompurify';
import { Marked } from 'marked';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/**
 * HTML inside the model's Markdown is shown as the text it is, never parsed: an answer quoting markup reads
 * as written, and even the sanitizer's inert parse never sees an `onerror` (Chromium reports that parse as a
 * CSP violation). DOMPurify still cleans what Markdown itself produces (a `javascript:` link, say).
 */
const md = new Marked({ gfm: true, renderer: { html: ({ text }) => escapeHtml(text) } });

/**
 * Renders a growing Markdown answer into `el` without re-creating what is already there: the new HTML
 * (GitHub-flavoured Markdown by marked, then DOMPurify, so a model cannot inject script or event handlers)
 * is merged into the live DOM node by node. Finished blocks keep their elements, the growing one only gets
 * its text extended, so nothing blinks, a selection in an earlier paragraph survives, and a code fence that
 * arrives in pieces turns into a code block once its first backticks are complete.
 */
export function renderMarkdown(el: HTMLElement, text: string): void {
  const html = DOMPurify.sanitize(md.parse(text, { async: false }));
  const tpl = document.createElement('template');
  tpl.innerHTML = html;
  // Whitespace between blocks is layout noise (and would pad the answer's text).
  for (const n of [...tpl.content.childNodes]) if (n.nodeType === Node.TEXT_NODE && !(n.nodeValue ?? '').trim()) n.remove();
  morphChildren(el, tpl.content);
}

function sameKind(a: Node, b: Node): boolean {
  return a.nodeType === b.nodeType && a.nodeName === b.nodeName;
}

function morphChildren(target: Node, source: Node): void {
  const want = [...source.childNodes];
  const have = [...target.childNodes];
  want.forEach((s, i) => {
    const t = have[i];
    if (t && sameKind(t, s)) morph(t, s);
    else if (t) target.replaceChild(s, t);
    else target.appendChild(s);
  });
  for (const extra of have.slice(want.length)) extra.remove();
}

function morph(target: Node, source: Node): void {
  if (target.nodeType !== Node.ELEMENT_NODE) {
    if (target.nodeValue !== source.nodeValue) target.nodeValue = source.nodeValue;
    return;
  }
  const t = target as Element;
  const s = source as Element;
  for (const a of [...t.attributes]) if (!s.hasAttribute(a.name)) t.removeAttribute(a.name);
  for (const a of [...s.attributes]) if (t.getAttribute(a.name) !== a.value) t.setAttribute(a.name, a.value);
  morphChildren(t, s);
}
