// Small DOM helpers: elements from a tag, attributes and children; text is always text (never
// parsed as HTML: segments come from documents anyone may have written).
import { plain, splitCodes } from './model';

type Attrs = Record<string, string | ((e: any) => unknown) | undefined>;

export function el(tag: string, attrs: Attrs = {}, ...children: (Node | string | null | undefined)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (typeof v === 'function') (node as any)[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function clear(node: HTMLElement) {
  while (node.firstChild) node.firstChild.remove();
}

// Markup as text with its inline codes shown as tags, and `terms` (glossary hits, by their text
// in the segment) marked.
export function markupNode(markup: string, terms: { text: string; cls: string; title: string }[] = []): DocumentFragment {
  const out = document.createDocumentFragment();
  splitCodes(markup).forEach((part, i) => {
    if (part === '') return;
    if (i % 2 === 1) out.append(el('span', { class: 'tag' }, part));
    else out.append(...marked(plain(part), terms));
  });
  return out;
}

function marked(text: string, terms: { text: string; cls: string; title: string }[]): Node[] {
  if (terms.length === 0) return [document.createTextNode(text)];
  const lower = text.toLocaleLowerCase();
  let best = -1;
  let term: (typeof terms)[number] | undefined;
  for (const t of terms) {
    if (!t.text) continue;
    const at = lower.indexOf(t.text.toLocaleLowerCase());
    if (at >= 0 && (best < 0 || at < best)) {
      best = at;
      term = t;
    }
  }
  if (best < 0 || term === undefined) return [document.createTextNode(text)];
  const end = best + term.text.length;
  return [
    document.createTextNode(text.slice(0, best)),
    el('mark', { class: term.cls, title: term.title }, text.slice(best, end)),
    ...marked(text.slice(end), terms),
  ];
}
