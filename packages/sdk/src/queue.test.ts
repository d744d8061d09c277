import { describe, expect, test } from 'vitest';
import { eventBytes, toBatches } from './queue.js';

const bodyBytes = (events: object[]) => new TextEncoder().encode(JSON.stringify({ events })).length;

describe('toBatches', () => {
  test('keeps order and cuts at 100 events', () => {
    const events = Array.from({ length: 201 }, (_, i) => ({ i }));
    const batches = toBatches(events);
    expect(batches.map((b) => b.length)).toEqual([100, 100, 1]);
    expect(batches.flat()).toEqual(events);
  });

  test('cuts before 64 KiB of UTF-8 body, counting multi-byte characters', () => {
    const events = Array.from({ length: 12 }, (_, i) => ({ i, text: '€'.repeat(6000) })); // ~18 KB each
    const batches = toBatches(events);
    expect(batches.map((b) => b.length)).toEqual([3, 3, 3, 3]);
    for (const batch of batches) expect(bodyBytes(batch)).toBeLessThanOrEqual(65_536);
    // and each batch is as full as it may be: one more event would not fit
    expect(bodyBytes([...(batches[0] as object[]), events[3] as object])).toBeGreaterThan(65_536);
  });

  test('counts to the byte: a body of exactly 64 KiB is allowed, one byte more is not', () => {
    const filler = (n: number) => ({ t: 'x'.repeat(n) });
    const small = { a: 1 };
    const fill = 65_536 - bodyBytes([filler(0), small]);
    expect(bodyBytes([filler(fill), small])).toBe(65_536);
    expect(toBatches([filler(fill), small]).map((b) => b.length)).toEqual([2]);
    expect(toBatches([filler(fill + 1), small]).map((b) => b.length)).toEqual([1, 1]);
    expect(eventBytes(small)).toBe(8); // {"a":1} and its comma
  });

  test('an empty queue makes no batch; an oversized event travels alone', () => {
    expect(toBatches([])).toEqual([]);
    const huge = { t: 'x'.repeat(70_000) };
    expect(toBatches([{ a: 1 }, huge, { b: 2 }]).map((b) => b.length)).toEqual([1, 1, 1]);
  });
});
