import { afterEach, expect, test, vi } from 'vitest';
import { brokenStorage } from '../test/broken-storage.js';
import { load, save } from './storage.js';

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

test('round-trips JSON and removes on undefined', () => {
  save('k', { a: [1, 'x'] });
  expect(localStorage.getItem('k')).toBe('{"a":[1,"x"]}');
  expect(load('k')).toEqual({ a: [1, 'x'] });
  save('k');
  expect(localStorage.getItem('k')).toBeNull();
  expect(load('k')).toBeUndefined();
});

test('corrupt values read as undefined', () => {
  localStorage.setItem('k', '{not json');
  expect(load('k')).toBeUndefined();
});

test('throwing storage reads as undefined and never throws', () => {
  vi.stubGlobal('localStorage', brokenStorage);
  expect(() => save('k', 1)).not.toThrow();
  expect(() => save('k')).not.toThrow();
  expect(load('k')).toBeUndefined();
});
