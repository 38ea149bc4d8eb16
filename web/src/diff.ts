// Word-level differences between a TM match's source and the segment's source, as CAT tools
// show them: what the match has that the segment lacks ("del") and what the segment has that
// the match lacks ("add").

export type DiffOp = 'same' | 'add' | 'del';
export interface DiffPart {
  op: DiffOp;
  text: string;
}

// Words, runs of white space, and single punctuation marks; inline tags stay whole.
export function tokenize(text: string): string[] {
  return text.match(/<[^>]*>|\s+|[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) ?? [];
}

const MAX_TOKENS = 400; // beyond this the LCS table gets large: the whole text is one change

// The parts of `to` (the current source) compared with `from` (the match's source), in order.
export function diffWords(from: string, to: string): DiffPart[] {
  const a = tokenize(from);
  const b = tokenize(to);
  if (a.length > MAX_TOKENS || b.length > MAX_TOKENS) {
    return merge([
      { op: 'del', text: from },
      { op: 'add', text: to },
    ]);
  }
  // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const parts: DiffPart[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      parts.push({ op: 'same', text: a[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      parts.push({ op: 'del', text: a[i++] });
    } else {
      parts.push({ op: 'add', text: b[j++] });
    }
  }
  while (i < a.length) parts.push({ op: 'del', text: a[i++] });
  while (j < b.length) parts.push({ op: 'add', text: b[j++] });
  return merge(parts);
}

// Neighbours of the same kind become one part; empty parts go.
function merge(parts: DiffPart[]): DiffPart[] {
  const out: DiffPart[] = [];
  for (const p of parts) {
    if (p.text === '') continue;
    const last = out[out.length - 1];
    if (last !== undefined && last.op === p.op) {
      last.text += p.text;
    } else {
      out.push({ ...p });
    }
  }
  return out;
}
