import { describe, expect, it } from 'vitest';
import { memoryRateLimitStore } from './rate-limit.js';

describe('memoryRateLimitStore', () => {
  it('holds at most maxKeys keys a window: past them new keys pass uncounted, known ones still count', async () => {
    const store = memoryRateLimitStore({ maxKeys: 2 });
    const charge = (key: string) => store.charge([{ key, cost: 1, max: 1 }], 60_000);
    expect(await charge('a')).toBe(-1);
    expect(await charge('b')).toBe(-1);
    expect(await charge('a')).toBe(0); // counted: over its limit
    // A third key (a client inventing site ids) is not stored, so it never grows the map.
    expect(await charge('c')).toBe(-1);
    expect(await charge('c')).toBe(-1);
  });
});
