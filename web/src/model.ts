// The job view's model: the segments of one target language, the filters over them, and what a
// row shows. Free of the DOM, so that the tests run it in node.
import type { Segment } from './api';

export interface Filter {
  state: string; // '' | 'awaiting' | 'confirmed' | 'approved' | 'reviewed' | 'open' (none of those three)
  qe: string; // '' | 'low' (< 70) | 'mid' (70-85) | 'high' (>= 85) | 'none' (not scored)
  qa: boolean; // only segments with QA warnings
  origin: string; // '' | 'tm' | 'mt' | 'human' | ...
  text: string; // in the source or the target, case-insensitive
}

export const NO_FILTER: Filter = { state: '', qe: '', qa: false, origin: '', text: '' };

export function qeBand(score: number | null | undefined): 'low' | 'mid' | 'high' | 'none' {
  if (score === null || score === undefined || score < 0) return 'none';
  if (score < 70) return 'low';
  if (score < 85) return 'mid';
  return 'high';
}

// A translation someone settled on: the machine's approval, a post-editor's, a reviewer's.
export function isClosed(s: Pick<Segment, 'state'>): boolean {
  return s.state === 'confirmed' || s.state === 'approved' || s.state === 'reviewed';
}

export function qaWarnings(s: Segment): number {
  return s.review?.qa?.length ?? s.qa_warnings ?? 0;
}

export function matches(s: Segment, f: Filter): boolean {
  if (f.state === 'open' ? isClosed(s) : f.state !== '' && s.state !== f.state) return false;
  if (f.qe !== '' && qeBand(s.qe_score) !== f.qe) return false;
  if (f.qa && qaWarnings(s) === 0) return false;
  if (f.origin !== '' && s.origin !== f.origin) return false;
  if (f.text !== '') {
    const needle = f.text.toLocaleLowerCase();
    if (!s.source.toLocaleLowerCase().includes(needle) && !s.target.toLocaleLowerCase().includes(needle) &&
        !s.draft.toLocaleLowerCase().includes(needle)) {
      return false;
    }
  }
  return true;
}

// The positions (into `all`) the filter keeps.
export function filtered(all: Segment[], f: Filter): number[] {
  const out: number[] = [];
  for (let i = 0; i < all.length; i++) if (matches(all[i], f)) out.push(i);
  return out;
}

// The next position after `from` in `rows` (wrapping round) whose segment `wanted` says; -1 when
// none.
export function nextWhere(all: Segment[], rows: number[], from: number, wanted: (s: Segment) => boolean): number {
  for (let r = from + 1; r < rows.length; r++) if (wanted(all[rows[r]])) return r;
  for (let r = 0; r <= from && r < rows.length; r++) if (wanted(all[rows[r]])) return r;
  return -1;
}

// The next segment not closed (for a post-editor).
export function nextOpen(all: Segment[], rows: number[], from: number): number {
  return nextWhere(all, rows, from, (s) => !isClosed(s));
}

// The next segment a reviewer has not judged: confirmed by a post-editor, not yet reviewed.
export function nextToReview(all: Segment[], rows: number[], from: number): number {
  return nextWhere(all, rows, from, (s) => s.state === 'confirmed');
}

// Settled on: what counts toward a target's progress.
export function settled(counts: Record<string, number> | undefined): number {
  return (counts?.confirmed ?? 0) + (counts?.approved ?? 0) + (counts?.reviewed ?? 0);
}

// verso's markup (text/text.h): characters XML-escaped, inline codes as elements of the TMX /
// XLIFF 1.2 inline vocabulary. The editor shows and edits the text unescaped with the codes
// verbatim; what it sends is escaped again around the codes.
const CODE =
  /<(bpt|ept|it|ph|ut)\b[^>]*>[\s\S]*?<\/\1>|<(?:x|bx|ex)\b[^>]*\/>|<\/?(?:hi|g|mrk)\b[^>]*>/g;

function unescape(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) => {
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'amp') return '&';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return String.fromCodePoint(cp);
  });
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// Splits markup or editable text into [text, code, text, code, ..., text].
export function splitCodes(s: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (const m of s.matchAll(CODE)) {
    out.push(s.slice(at, m.index), m[0]);
    at = (m.index ?? 0) + m[0].length;
  }
  out.push(s.slice(at));
  return out;
}

// Markup -> what the editor edits.
export function toEditable(markup: string): string {
  return splitCodes(markup).map((p, i) => (i % 2 === 1 ? p : unescape(p))).join('');
}

// What the editor typed -> markup: codes kept, the rest escaped ("<b>" typed is text).
export function fromEditable(text: string): string {
  return splitCodes(text).map((p, i) => (i % 2 === 1 ? p : escape(p))).join('');
}

// Markup as a reader sees it, codes kept visible.
export const plain = toEditable;

// Progress of a target: closed / all, in whole per cent.
export function progress(counts: Record<string, number> | undefined): number {
  if (!counts || !counts.segments) return 0;
  return Math.floor((100 * settled(counts)) / counts.segments);
}
