import { describe, expect, it } from 'vitest';
import { diffWords, tokenize } from '../src/diff';

describe('diffWords', () => {
  it('marks what the segment added and what the match had', () => {
    expect(diffWords('Click Save to keep your changes.', 'Click Save to keep all your changes!')).toEqual([
      { op: 'same', text: 'Click Save to keep ' },
      { op: 'add', text: 'all ' },
      { op: 'same', text: 'your changes' },
      { op: 'del', text: '.' },
      { op: 'add', text: '!' },
    ]);
  });
  it('keeps inline codes whole', () => {
    expect(tokenize('Press <ph id="1"/> now')).toEqual(['Press', ' ', '<ph id="1"/>', ' ', 'now']);
    expect(diffWords('Press <ph id="1"/> now', 'Press <ph id="2"/> now')).toEqual([
      { op: 'same', text: 'Press ' },
      { op: 'del', text: '<ph id="1"/>' },
      { op: 'add', text: '<ph id="2"/>' },
      { op: 'same', text: ' now' },
    ]);
  });
  it('handles any script and identical or empty texts', () => {
    expect(diffWords('Größe ändern', 'Größe ändern')).toEqual([{ op: 'same', text: 'Größe ändern' }]);
    expect(diffWords('', 'new')).toEqual([{ op: 'add', text: 'new' }]);
    expect(diffWords('old', '')).toEqual([{ op: 'del', text: 'old' }]);
  });
  it('gives up word by word on very long texts', () => {
    const long = Array.from({ length: 500 }, (_, i) => `w${i}`).join(' ');
    expect(diffWords(long, long + ' x').map((p) => p.op)).toEqual(['del', 'add']);
  });
});
