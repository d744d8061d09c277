import { describe, expect, it } from 'vitest';
import { mergeSketches, VisitorSketch } from './sketches.js';
import { VisitorUnion } from './visitor-union.js';

const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `visitor-${from + i}`);
const sketchOf = (visitors: string[]) => {
  const sketch = new VisitorSketch();
  for (const id of visitors) sketch.add(id);
  return sketch.serialize();
};

describe('VisitorUnion', () => {
  it('counts a union of sparse sketches and ids exactly while it is small', () => {
    const union = new VisitorUnion();
    union.addSketch(sketchOf(ids(0, 1_000)));
    union.addSketch(sketchOf(ids(500, 1_500)));
    for (const id of ids(1_400, 2_000)) union.addVisitor(id);
    expect(union.exact).toBe(true);
    expect(union.estimate()).toBe(2_000);
    // Stored, it is the sketch of those visitors byte for byte.
    expect(union.serialize()).toEqual(sketchOf(ids(0, 2_000)));
  });

  it('leaving its exact set on the way (ids, then a sparse sketch), holds the registers of every visitor', () => {
    const union = new VisitorUnion();
    for (const id of ids(0, 2_500)) union.addVisitor(id);
    expect(union.exact).toBe(true);
    union.addSketch(sketchOf(ids(2_000, 4_000)));
    expect(union.exact).toBe(false);
    expect(union.serialize()).toEqual(sketchOf(ids(0, 4_000)));
    expect(union.estimate()).toBe(VisitorSketch.deserialize(sketchOf(ids(0, 4_000))).estimate());
  });

  it('gives the estimate of the sketches’ own merge once dense, within 1 %', () => {
    const days = [ids(0, 40_000), ids(30_000, 70_000), ids(65_000, 66_000), ids(69_000, 100_000)].map(sketchOf);
    const union = new VisitorUnion();
    for (const day of days) union.addSketch(day);
    expect(union.exact).toBe(false);
    expect(union.estimate()).toBe(mergeSketches(days).estimate());
    expect(Math.abs(union.estimate() - 100_000) / 100_000).toBeLessThan(0.01);
    expect(union.serialize()).toEqual(mergeSketches(days).serialize());
  });

  it('keeps every distinct 64-bit hash once, the hash 0 included, through the growth of its table', () => {
    const union = new VisitorUnion();
    union.addHashWords(0, 0);
    union.addHashWords(0, 0);
    // Hashes alike but for their lowest bits, and alike in the bits that pick a slot.
    for (let i = 0; i < 2_000; i++) union.addHashWords(0x80000000, i);
    for (let i = 0; i < 500; i++) union.addHashWords(i + 1, 0x1000 * 7);
    for (let i = 0; i < 500; i++) union.addHashWords(i + 1, 0x1000 * 7);
    expect(union.exact).toBe(true);
    expect(union.estimate()).toBe(2_501);
    const stored = union.serialize();
    expect(stored.length).toBe(1 + 8 * 2_501);
    // Sorted by the unsigned hash: 0 first, 0x80000000… last.
    expect(stored.readUInt32BE(1)).toBe(0);
    expect(stored.readUInt32BE(stored.length - 8)).toBe(0x80000000);
    expect(stored.readUInt32BE(stored.length - 4)).toBe(1_999);
  });
});
