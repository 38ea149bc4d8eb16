import { describe, expect, it } from 'vitest';
import type { Segment } from '../src/api';
import { filtered, fromEditable, nextOpen, nextToReview, NO_FILTER, progress, qeBand, toEditable } from '../src/model';

const seg = (index: number, over: Partial<Segment> = {}): Segment => ({
  index, target_lang: 'es', unit_id: String(index), source: `Source ${index}`, target: `Target ${index}`, draft: '',
  state: 'awaiting', version: 0, editor: '', origin: 'mt', tm_score: 0, repetition: false, words: 2, engine: 'apertium',
  qe_score: 60, review: { qa: [] }, ...over,
});

describe('markup in the editor', () => {
  it('round-trips escaped text and inline codes', () => {
    const markup = 'Tom &amp; Jerry &lt;3 <ph id="1">&lt;br/&gt;</ph> <g id="2">bold</g> <x id="3"/>';
    expect(toEditable(markup)).toBe('Tom & Jerry <3 <ph id="1">&lt;br/&gt;</ph> <g id="2">bold</g> <x id="3"/>');
    expect(fromEditable(toEditable(markup))).toBe(markup);
  });
  it('escapes what the editor typed that looks like a tag', () => {
    expect(fromEditable('a <b> & c')).toBe('a &lt;b&gt; &amp; c');
  });
});

describe('filters', () => {
  const all = [
    seg(0, { state: 'confirmed', qe_score: 90 }),
    seg(1, { review: { qa: [{ check: 'numbers', severity: 'error', message: 'x' }] } }),
    seg(2, { origin: 'tm', qe_score: null }),
    seg(3, { state: 'approved', qe_score: 75, target: 'Hola mundo' }),
  ];
  it('by state, QE band, QA, origin and text', () => {
    expect(filtered(all, { ...NO_FILTER, state: 'open' })).toEqual([1, 2]);
    expect(filtered(all, { ...NO_FILTER, qe: 'high' })).toEqual([0]);
    expect(filtered(all, { ...NO_FILTER, qe: 'mid' })).toEqual([3]);
    expect(filtered(all, { ...NO_FILTER, qe: 'none' })).toEqual([2]);
    expect(filtered(all, { ...NO_FILTER, qa: true })).toEqual([1]);
    expect(filtered(all, { ...NO_FILTER, origin: 'tm' })).toEqual([2]);
    expect(filtered(all, { ...NO_FILTER, text: 'MUNDO' })).toEqual([3]);
  });
  it('finds the next unconfirmed, wrapping around', () => {
    const rows = [0, 1, 2, 3];
    expect(nextOpen(all, rows, 0)).toBe(1);
    expect(nextOpen(all, rows, 2)).toBe(1);
    expect(nextOpen([all[0], all[3]], [0, 1], 0)).toBe(-1);
  });
  it('bands and progress', () => {
    expect([qeBand(-1), qeBand(69.9), qeBand(70), qeBand(85)]).toEqual(['none', 'low', 'mid', 'high']);
    expect(progress({ segments: 8, confirmed: 3, approved: 1 })).toBe(50);
    expect(progress(undefined)).toBe(0);
    expect(progress({ segments: 4, confirmed: 1, approved: 1, reviewed: 1 })).toBe(75);
  });
  it('a reviewed segment is closed; a reviewer goes to the next confirmed one', () => {
    const review = [seg(0, { state: 'reviewed' }), seg(1, { state: 'approved' }), seg(2, { state: 'confirmed' }),
      seg(3, { state: 'awaiting' })];
    const rows = [0, 1, 2, 3];
    expect(filtered(review, { ...NO_FILTER, state: 'open' })).toEqual([3]);
    expect(filtered(review, { ...NO_FILTER, state: 'reviewed' })).toEqual([0]);
    expect(nextToReview(review, rows, 0)).toBe(2);
    expect(nextToReview(review, rows, 2)).toBe(2); // wraps round to itself: the only one left
    expect(nextToReview([review[0], review[3]], [0, 1], 0)).toBe(-1);
  });
});
