import { describe, expect, it } from 'vitest';
import { LIMITS, utf8Length } from './limits.js';

describe('utf8Length', () => {
  it('counts what PostgreSQL stores', () => {
    const cases: [string, number][] = [
      ['', 0],
      ['abc', 3],
      ['é', 2],
      ['路', 3],
      ['😀', 4],
      ['a路😀é/', 11],
      ['\u07ff\u0800\uffff', 8],
    ];
    for (const [value, bytes] of cases) expect(utf8Length(value)).toBe(bytes);
  });
});

describe('index entries', () => {
  it('the widest key stays under PostgreSQL’s btree entry limit at the limits', () => {
    // site_daily_event_counts (site_id, date, event_type, path): site ids are ASCII; a UTF-16
    // unit of an event type is at most 3 bytes; the path is limited in bytes. Each text value
    // carries a 4-byte header, the index tuple 8 bytes plus alignment.
    const widest = LIMITS.siteIdMaxLength + 4 + LIMITS.eventTypeMaxLength * 3 + LIMITS.pathMaxLength + 3 * 4 + 16;
    expect(widest).toBeLessThan(LIMITS.indexEntryMaxBytes);
  });
});
