import { describe, expect, it } from 'vitest';
import { formatIssues } from './errors.js';
import { statsQuerySchema } from './stats.js';

function problems(input: Record<string, string>): string[] {
  const result = statsQuerySchema.safeParse(input);
  return result.success ? [] : formatIssues(result.error.issues);
}

describe('statsQuerySchema', () => {
  it('accepts a date, or a range with a limit and an event type', () => {
    expect(statsQuerySchema.parse({ siteId: 's', date: '2024-11-14' })).toEqual({ siteId: 's', date: '2024-11-14' });
    expect(
      statsQuerySchema.parse({ siteId: 's', from: '2024-01-01', to: '2024-12-31', limit: '5', eventType: 'click' }),
    ).toEqual({ siteId: 's', from: '2024-01-01', to: '2024-12-31', limit: 5, eventType: 'click' });
  });

  it.each([
    [{}, 'siteId should not be empty'],
    [{ siteId: 's' }, 'date should not be empty (or give from and to)'],
    [{ siteId: 's', date: '14-11-2024' }, 'date must be a date in YYYY-MM-DD format'],
    [{ siteId: 's', date: '2024-02-30' }, 'date must be a real calendar date'],
    // Year 0 is a JS date but not a PostgreSQL one: refused here rather than failing in the database.
    [{ siteId: 's', date: '0000-01-01' }, 'date must be between 1970-01-01 and 9999-12-31'],
    [{ siteId: 's', date: '1969-12-31' }, 'date must be between 1970-01-01 and 9999-12-31'],
    [{ siteId: 's', from: '0000-01-01', to: '0000-01-02' }, 'from must be between 1970-01-01 and 9999-12-31'],
    [{ siteId: 's', from: '9999-12-30', to: '10000-01-01' }, 'to must be a date in YYYY-MM-DD format'],
    [
      { siteId: 's', date: '2024-02-01', from: '2024-01-01', to: '2024-01-02' },
      'date cannot be combined with from and to',
    ],
    [{ siteId: 's', from: '2024-01-01' }, 'from and to must be given together'],
    [{ siteId: 's', from: '2024-02-01', to: '2024-01-01' }, 'to must not be before from'],
    [{ siteId: 's', from: '2024-01-01', to: '2025-01-01' }, 'from and to must span at most 366 days'],
    [{ siteId: 's', date: '2024-01-01', limit: '0' }, 'limit must be at least 1'],
    [{ siteId: 's', date: '2024-01-01', limit: '101' }, 'limit must be at most 100'],
    [{ siteId: 's', date: '2024-01-01', limit: 'ten' }, 'limit must be a whole number'],
    [
      { siteId: 's', date: '2024-01-01', eventType: 'a\u0000' },
      'eventType must not contain NUL (\\u0000) or unpaired surrogates',
    ],
  ])('rejects %j', (query, message) => {
    expect(problems(query as Record<string, string>)).toContain(message);
  });

  it('accepts the first and last days PostgreSQL and JS both hold', () => {
    expect(problems({ siteId: 's', date: '1970-01-01' })).toEqual([]);
    expect(problems({ siteId: 's', from: '9999-12-01', to: '9999-12-31', eventType: 'click' })).toEqual([]);
  });

  it('allows a full leap year range of 366 days', () => {
    expect(problems({ siteId: 's', from: '2024-01-01', to: '2024-12-31' })).toEqual([]);
  });
});

describe('one message per mistake, one rule for unknown names', () => {
  it('a date in another format is one message, not two', () => {
    const parsed = statsQuerySchema.safeParse({ siteId: 's', date: '14/11/2024' });
    expect(parsed.success).toBe(false);
    expect(formatIssues(parsed.error?.issues ?? [])).toEqual(['date must be a date in YYYY-MM-DD format']);
  });

  it('an unknown query parameter is refused by name, as an unknown body field is', () => {
    const parsed = statsQuerySchema.safeParse({ siteId: 's', date: '2024-11-14', site_id: 's' });
    expect(parsed.success).toBe(false);
    expect(formatIssues(parsed.error?.issues ?? [])).toEqual(['property site_id should not exist']);
  });
});
