import { describe, expect, it } from 'vitest';
import { monthsWithin, weeksWithin } from './sql.js';

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

describe('weeksWithin', () => {
  it('lists the whole ISO weeks (Monday to Sunday) inside an inclusive range of days, by their Monday', () => {
    // 2025-12-01 is a Monday: the 30 days from Tuesday 2 to Wednesday 31 hold three whole weeks.
    expect(weeksWithin('2025-12-02', '2025-12-31')).toEqual(['2025-12-08', '2025-12-15', '2025-12-22']);
    expect(weeksWithin('2025-12-01', '2025-12-07')).toEqual(['2025-12-01']);
    expect(weeksWithin('2025-12-01', '2025-12-06')).toEqual([]);
    expect(weeksWithin('2025-12-02', '2025-12-08')).toEqual([]);
    // Across a year's end: 2024-12-30 is a Monday.
    expect(weeksWithin('2024-12-28', '2025-01-12')).toEqual(['2024-12-30', '2025-01-06']);
  });

  it('reaches the last day a query range may end on', () => {
    // 9998-12-21 is a Monday and 9998-12-31 a Thursday: the week of the 28th is not whole.
    expect(weeksWithin('9998-12-14', '9998-12-31')).toEqual(['9998-12-14', '9998-12-21']);
  });
});
