import { describe, expect, it } from 'vitest';
import { monthsWithin } from './sql.js';

describe('monthsWithin', () => {
  it('lists the whole months inside an inclusive range of days', () => {
    expect(monthsWithin('2024-01-15', '2024-04-30')).toEqual(['2024-02-01', '2024-03-01', '2024-04-01']);
    expect(monthsWithin('2024-02-01', '2024-02-28')).toEqual([]); // 2024 is a leap year
    expect(monthsWithin('2024-02-01', '2024-02-29')).toEqual(['2024-02-01']);
    expect(monthsWithin('2023-12-01', '2024-01-31')).toEqual(['2023-12-01', '2024-01-01']);
  });

  it('ends at the last day there is, 9999-12-31, without a month after it', () => {
    expect(monthsWithin('9999-12-01', '9999-12-31')).toEqual(['9999-12-01']);
    expect(monthsWithin('9999-11-15', '9999-12-31')).toEqual(['9999-12-01']);
  });
});
