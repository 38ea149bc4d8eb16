// The workbench's keyboard: the conventions of MateCat, Trados, memoQ and Weblate where they do
// not clash with the browser's own shortcuts (those a page cannot take, or should not: Ctrl+1..9
// and Alt+1..8 switch tabs, Ctrl+K searches, Ctrl+L, Ctrl+T, Ctrl+W ...). Where a tool's key
// clashes, the nearest free one is used and the shortcut list says so.

export type Action =
  | 'confirm-next'
  | 'confirm-next-unconfirmed'
  | 'send-back'
  | 'next'
  | 'previous'
  | 'copy-source'
  | 'insert-match'
  | 'concordance'
  | 'shortcuts'
  | 'close';

export interface Binding {
  keys: string; // as keyName() writes them
  action: Action;
  label: string;
  note?: string;
  match?: number; // insert-match: 1..9
}

export const BINDINGS: Binding[] = [
  {
    keys: 'Ctrl+Enter',
    action: 'confirm-next',
    label: 'Confirm and go to the next segment',
    note: 'reviewers: approve a confirmed segment (as memoQ\'s review)',
  },
  {
    keys: 'Ctrl+Shift+Enter',
    action: 'confirm-next-unconfirmed',
    label: 'Confirm and go to the next unconfirmed segment',
    note: 'reviewers: approve and go to the next one to review',
  },
  { keys: 'Alt+R', action: 'send-back', label: 'Send the segment back to post-editing, saying why', note: 'reviewers' },
  { keys: 'Ctrl+ArrowDown', action: 'next', label: 'Next segment' },
  { keys: 'Ctrl+ArrowUp', action: 'previous', label: 'Previous segment' },
  { keys: 'Ctrl+I', action: 'copy-source', label: 'Copy the source into the target' },
  ...Array.from({ length: 9 }, (_, i) => ({
    keys: `Ctrl+Shift+${i + 1}`,
    action: 'insert-match' as const,
    match: i + 1,
    label: `Insert TM match ${i + 1}`,
    note: i === 0 ? 'memoQ uses Ctrl+1..9, which switches browser tabs' : undefined,
  })),
  {
    keys: 'Alt+K',
    action: 'concordance',
    label: 'Concordance search on the selected text',
    note: 'memoQ uses Ctrl+K, the browser\'s search',
  },
  {
    keys: 'Ctrl+/',
    action: 'shortcuts',
    label: 'Show this list of shortcuts',
    note: 'MateCat uses Alt+H, Firefox\'s Help menu',
  },
  { keys: 'Escape', action: 'close', label: 'Close a dialog or panel' },
];

// What the browser (Chromium, Firefox; Linux, Windows, macOS with Cmd as Ctrl) keeps for itself
// or users expect of it. No binding may be one of these.
export const BROWSER_SHORTCUTS: string[] = [
  ...['T', 'N', 'W', 'L', 'K', 'D', 'F', 'G', 'H', 'J', 'O', 'P', 'R', 'S', 'U', 'Q', 'E', 'A', 'C', 'V', 'X', 'Z', 'Y']
    .map((k) => `Ctrl+${k}`),
  ...['T', 'N', 'W', 'I', 'J', 'C', 'B', 'O', 'Q', 'R', 'Delete', 'Tab', 'Z'].map((k) => `Ctrl+Shift+${k}`),
  ...Array.from({ length: 9 }, (_, i) => `Ctrl+${i + 1}`),
  ...Array.from({ length: 9 }, (_, i) => `Alt+${i + 1}`),
  'Ctrl+Tab', 'Ctrl+PageUp', 'Ctrl+PageDown', 'Ctrl+0', 'Ctrl+=', 'Ctrl+-', 'Ctrl+Shift+=',
  'Alt+ArrowLeft', 'Alt+ArrowRight', 'Alt+Home', 'Alt+F4',
  // Menu bars' access keys (Firefox: File, Edit, View, History, Bookmarks, Tools, Help).
  ...['F', 'E', 'V', 'S', 'B', 'T', 'H', 'D'].map((k) => `Alt+${k}`),
  'F1', 'F3', 'F5', 'F6', 'F7', 'F11', 'F12', 'Ctrl+F5', 'Shift+F5', 'Ctrl+Shift+Delete',
];

export interface KeyLike {
  key: string;
  code: string;
  ctrlKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
  metaKey: boolean;
}

// "Ctrl+Shift+Enter", "Alt+K", "Ctrl+Shift+1": modifiers in a fixed order (Cmd counts as Ctrl),
// letters and digits by their physical key (Shift+1 is "1", not "!"; Alt+K is "K" on a Mac too).
export function keyName(e: KeyLike): string {
  let key = e.key;
  const letter = /^Key([A-Z])$/.exec(e.code);
  const digit = /^(?:Digit|Numpad)([0-9])$/.exec(e.code);
  if (letter) key = letter[1];
  else if (digit) key = digit[1];
  else if (key.length === 1) key = key.toUpperCase();
  const mods: string[] = [];
  if (e.ctrlKey || e.metaKey) mods.push('Ctrl');
  if (e.altKey) mods.push('Alt');
  if (e.shiftKey) mods.push('Shift');
  return [...mods, key].join('+');
}

export function bindingFor(e: KeyLike): Binding | undefined {
  const name = keyName(e);
  return BINDINGS.find((b) => b.keys === name);
}

// "Ctrl+Shift+Enter" as the shortcut list shows it ("⌘" on a Mac).
export function displayKeys(keys: string, mac = false): string {
  return keys
    .split('+')
    .map((k) => (k === 'Ctrl' && mac ? '⌘' : k === 'ArrowDown' ? '↓' : k === 'ArrowUp' ? '↑' : k))
    .join(mac ? '' : '+');
}
