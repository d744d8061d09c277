import { describe, expect, it } from 'vitest';
import { formatIssues } from './errors.js';
import { batchSchema, eventSchema } from './event.js';
import { LIMITS } from './limits.js';

const valid = { siteId: 'site_1', eventType: 'page_view', path: '/', timestamp: '2024-11-14T10:00:00Z' };

function problems(input: unknown): string[] {
  const result = eventSchema.safeParse(input);
  return result.success ? [] : formatIssues(result.error.issues);
}

describe('eventSchema', () => {
  it('accepts the original design event and timestamps with offsets', () => {
    expect(problems(valid)).toEqual([]);
    expect(problems({ ...valid, timestamp: '2024-11-14T23:30:00.123-05:00' })).toEqual([]);
    expect(
      problems({
        ...valid,
        eventId: '550e8400-e29b-41d4-a716-446655440000',
        visitorId: '550E8400-E29B-41D4-A716-446655440001',
        userId: 'u1',
        referrer: 'https://example.com/',
        props: { plan: 'pro', seats: 3, trial: false },
      }),
    ).toEqual([]);
  });

  it('accepts the enrichment fields the tracker sends', () => {
    const enriched = {
      ...valid,
      utmSource: 'newsletter',
      utmMedium: 'email',
      utmCampaign: 'spring sale',
      utmTerm: 'running shoes',
      utmContent: 'u'.repeat(LIMITS.utmMaxLength),
      language: 'en-US',
      screenWidth: 1440,
    };
    expect(problems(enriched)).toEqual([]);
    expect(eventSchema.parse(enriched)).toEqual(enriched);
    for (const language of ['en', 'zh-Hant-TW', 'de-CH-1996', 'x'.repeat(8)]) {
      expect(problems({ ...valid, language })).toEqual([]);
    }
    expect(problems({ ...valid, screenWidth: 0 })).toEqual([]);
    expect(problems({ ...valid, screenWidth: LIMITS.screenWidthMax })).toEqual([]);
  });

  it('takes a path of exactly 2048 bytes of UTF-8, whatever the characters', () => {
    expect(problems({ ...valid, path: '/'.repeat(LIMITS.pathMaxLength) })).toEqual([]);
    expect(problems({ ...valid, path: `/${'路'.repeat(682)}x` })).toEqual([]); // 1 + 2046 + 1 bytes
    expect(problems({ ...valid, path: `/${'😀'.repeat(511)}xyz` })).toEqual([]); // 1 + 2044 + 3 bytes
  });

  it('lists every problem, each naming its field', () => {
    expect(problems({})).toEqual([
      'siteId should not be empty',
      'eventType should not be empty',
      'path should not be empty',
      'timestamp should not be empty',
    ]);
    expect(problems({ ...valid, siteId: '', timestamp: 'yesterday' })).toEqual([
      'siteId should not be empty',
      'timestamp must be a valid ISO 8601 date string with seconds and a UTC offset or Z (e.g. 2024-11-14T10:00:00Z)',
    ]);
  });

  it.each([
    [{ siteId: 'has space' }, 'siteId must contain only letters, digits and _ . : -'],
    [{ siteId: 'x'.repeat(LIMITS.siteIdMaxLength + 1) }, 'siteId must be at most 128 characters'],
    [{ eventType: 42 }, 'eventType must be a string'],
    [{ path: 'x'.repeat(LIMITS.pathMaxLength + 1) }, 'path must be at most 2048 bytes of UTF-8'],
    // 2048 characters, but 6 KiB of UTF-8: over PostgreSQL's btree entry limit, so it would sink its fold.
    [{ path: '路'.repeat(LIMITS.pathMaxLength) }, 'path must be at most 2048 bytes of UTF-8'],
    [{ path: `/${'😀'.repeat(512)}` }, 'path must be at most 2048 bytes of UTF-8'],
    [
      { timestamp: '2024-11-14' },
      'timestamp must be a valid ISO 8601 date string with seconds and a UTC offset or Z (e.g. 2024-11-14T10:00:00Z)',
    ],
    [
      { timestamp: '2024-11-14T10:00:00' },
      'timestamp must be a valid ISO 8601 date string with seconds and a UTC offset or Z (e.g. 2024-11-14T10:00:00Z)',
    ],
    [{ timestamp: '1969-12-31T23:59:59Z' }, 'timestamp must not be before 1970-01-01'],
    [
      { timestamp: new Date(Date.now() + LIMITS.maxFutureSkewMs + 60_000).toISOString() },
      'timestamp must not be more than 24 hours in the future',
    ],
    [{ eventId: 'not-a-uuid' }, 'eventId must be a UUID'],
    [{ visitorId: 'abc' }, 'visitorId must be a UUID'],
    [{ userId: 'u'.repeat(257) }, 'userId must be at most 256 characters'],
    [
      { props: { nested: { a: 1 } } },
      'props.nested must be a string of at most 500 characters, a finite number or a boolean',
    ],
    [{ props: [1, 2] }, 'props must be an object'],
    [
      { props: Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, i])) },
      'props must have at most 30 keys',
    ],
    [{ unexpected: true }, 'property unexpected should not exist'],
    [{ utmSource: '' }, 'utmSource should not be empty'],
    [{ utmMedium: 'm'.repeat(257) }, 'utmMedium must be at most 256 characters'],
    [{ utmCampaign: 42 }, 'utmCampaign must be a string'],
    [{ utmTerm: 'a\u0000b' }, 'utmTerm must not contain the NUL character (\\u0000)'],
    [{ utmContent: '\uD800' }, 'utmContent must be valid Unicode (no unpaired surrogates)'],
    [{ utm_source: 'x' }, 'property utm_source should not exist'],
    [{ language: 'en_US' }, 'language must be a BCP 47 language tag such as en-US'],
    [{ language: '' }, 'language must be a BCP 47 language tag such as en-US'],
    [{ language: `en-${'abcdefgh-'.repeat(4)}x` }, 'language must be at most 35 characters'],
    [{ language: 7 }, 'language must be a string'],
    [{ screenWidth: 1280.5 }, 'screenWidth must be an integer'],
    [{ screenWidth: -1 }, 'screenWidth must not be negative'],
    [{ screenWidth: 100_001 }, 'screenWidth must be at most 100000'],
    [{ screenWidth: '1280' }, 'screenWidth must be a number'],
    [{ path: '/a\u0000b' }, 'path must not contain the NUL character (\\u0000)'],
    [{ userId: 'u\u0000' }, 'userId must not contain the NUL character (\\u0000)'],
    [{ referrer: 'https://x.example/\uD800' }, 'referrer must be valid Unicode (no unpaired surrogates)'],
    [{ eventType: '\uDC00click' }, 'eventType must be valid Unicode (no unpaired surrogates)'],
    [{ props: { plan: 'pro\u0000' } }, 'props.plan must not contain NUL (\\u0000) or unpaired surrogates'],
    [{ props: { 'k\u0000': 1 } }, 'props keys must not contain NUL (\\u0000) or unpaired surrogates'],
    [{ props: JSON.parse('{"__proto__": "x"}') }, 'props keys must not be __proto__'],
    [{ props: { ['k'.repeat(65)]: 1 } }, 'props keys must be at most 64 characters'],
    [{ timestamp: '2024-11-14T10:00:00+23:59' }, 'timestamp must have a UTC offset between -14:00 and +14:00'],
  ])('rejects %j', (patch, message) => {
    expect(problems({ ...valid, ...patch })).toContain(message);
  });

  it('keeps valid Unicode, control characters and prototype-named props intact', () => {
    const event = {
      ...valid,
      path: '/caf\u00e9/\u{1F600}/\u0001\t\u001f',
      props: JSON.parse('{"constructor": "c", "toString": "t", "emoji": "\u{1F600}"}'),
      timestamp: '2024-11-14T10:00:00-12:00',
    };
    const parsed = eventSchema.parse(event);
    expect(parsed.path).toBe(event.path);
    expect(Object.entries(parsed.props ?? {})).toEqual([
      ['constructor', 'c'],
      ['toString', 't'],
      ['emoji', '\u{1F600}'],
    ]);
  });

  it('accepts a timestamp just inside the 24 hour window', () => {
    expect(
      problems({ ...valid, timestamp: new Date(Date.now() + LIMITS.maxFutureSkewMs - 60_000).toISOString() }),
    ).toEqual([]);
  });

  it.each([null, [], 'text', 42])('rejects a body that is not an object: %j', (input) => {
    expect(problems(input)).toEqual(['event must be a JSON object']);
  });
});

describe('batchSchema', () => {
  it('takes 1 to 100 events and nothing else', () => {
    expect(batchSchema.safeParse({ events: [valid] }).success).toBe(true);
    const issues = (input: unknown) => {
      const result = batchSchema.safeParse(input);
      return result.success ? [] : formatIssues(result.error.issues);
    };
    expect(issues({ events: [] })).toEqual(['events should not be empty']);
    expect(issues({ events: Array(101).fill(valid) })).toEqual(['events must contain at most 100 events']);
    expect(issues({ events: {} })).toEqual(['events must be an array']);
    expect(issues({ events: [valid], extra: 1 })).toEqual(['property extra should not exist']);
  });
});
