import { describe, expect, it } from 'vitest';
import { BINDINGS, BROWSER_SHORTCUTS, bindingFor, displayKeys, keyName } from '../src/shortcuts';

const key = (over: Partial<Parameters<typeof keyName>[0]>) => ({
  key: '', code: '', ctrlKey: false, altKey: false, shiftKey: false, metaKey: false, ...over,
});

describe('shortcuts', () => {
  it('follows the CAT tools where the browser lets it', () => {
    expect(bindingFor(key({ key: 'Enter', code: 'Enter', ctrlKey: true }))?.action).toBe('confirm-next');
    expect(bindingFor(key({ key: 'Enter', code: 'Enter', ctrlKey: true, shiftKey: true }))?.action).toBe('confirm-next-unconfirmed');
    expect(bindingFor(key({ key: 'ArrowDown', code: 'ArrowDown', ctrlKey: true }))?.action).toBe('next');
    expect(bindingFor(key({ key: 'i', code: 'KeyI', ctrlKey: true }))?.action).toBe('copy-source');
    expect(bindingFor(key({ key: 'k', code: 'KeyK', altKey: true }))?.action).toBe('concordance');
    // Shift+3 types "#" on a US keyboard: the physical key counts.
    const third = bindingFor(key({ key: '#', code: 'Digit3', ctrlKey: true, shiftKey: true }));
    expect(third?.action).toBe('insert-match');
    expect(third?.match).toBe(3);
  });
  it('takes Cmd as Ctrl on a Mac', () => {
    expect(keyName(key({ key: 'Enter', code: 'Enter', metaKey: true }))).toBe('Ctrl+Enter');
    expect(displayKeys('Ctrl+Enter', true)).toBe('⌘Enter');
  });
  it('leaves the browser its own shortcuts', () => {
    const clashes = BINDINGS.filter((b) => BROWSER_SHORTCUTS.includes(b.keys)).map((b) => b.keys);
    expect(clashes).toEqual([]);
    expect(new Set(BINDINGS.map((b) => b.keys)).size).toBe(BINDINGS.length);
  });
  it('ignores plain typing', () => {
    expect(bindingFor(key({ key: 'a', code: 'KeyA' }))).toBeUndefined();
    expect(bindingFor(key({ key: 'Enter', code: 'Enter' }))).toBeUndefined();
  });
});
