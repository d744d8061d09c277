import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeSketches, SPARSE_LIMIT, VisitorSketch } from './sketches.js';

const visitor = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function sketchOf(from: number, to: number): VisitorSketch {
  const sketch = new VisitorSketch();
  for (let i = from; i < to; i++) sketch.add(visitor(i));
  return sketch;
}

describe('visitor sketches', () => {
  it('count exactly up to the sparse limit, with duplicates, through serialization and merges', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: SPARSE_LIMIT - 1 }), { maxLength: 4_000 }),
        fc.nat(100),
        (ids, cut) => {
          const left = new VisitorSketch();
          const right = new VisitorSketch();
          for (const [i, id] of ids.entries()) (i % 100 < cut ? left : right).add(visitor(id));
          const merged = mergeSketches([left.serialize(), right.serialize()]);
          expect(merged.exact).toBe(true);
          expect(merged.estimate()).toBe(new Set(ids).size);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('estimate within 1% on average and 2.5% at worst from 5,000 to 1,000,000 visitors', () => {
    const errors: number[] = [];
    for (const size of [5_000, 12_000, 30_000, 80_000, 200_000, 1_000_000]) {
      for (const offset of [0, 7_000_000]) {
        const estimate = sketchOf(offset, offset + size).estimate();
        errors.push(Math.abs(estimate - size) / size);
      }
    }
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    expect(mean).toBeLessThanOrEqual(0.01);
    expect(Math.max(...errors)).toBeLessThanOrEqual(0.025);
  });

  it('merging day sketches equals sketching the union (registers and estimate), sparse and dense mixed', () => {
    const days = [sketchOf(0, 2_000), sketchOf(1_000, 40_000), sketchOf(30_000, 31_000), sketchOf(35_000, 90_000)];
    const merged = mergeSketches(days.map((day) => day.serialize()));
    const whole = sketchOf(0, 90_000);
    expect(merged.serialize().equals(whole.serialize())).toBe(true);
    expect(Math.abs(merged.estimate() - 90_000) / 90_000).toBeLessThanOrEqual(0.025);
  });

  it('refuses bytes that are not a sketch', () => {
    expect(() => VisitorSketch.deserialize(Buffer.from([9, 1, 2]))).toThrow('not a visitor sketch');
  });
});
