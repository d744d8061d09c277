/**
 * The numeric limits of the wire contract (SPEC §2). Both the tracker and the
 * server read them from here so that a batch the SDK builds is never one the
 * server refuses for its size.
 */
export const LIMITS = {
  siteIdMaxLength: 128,
  eventTypeMaxLength: 64,
  /** Bytes of UTF-8, not characters: a path is a key of btree indexes, which PostgreSQL caps per entry. */
  pathMaxLength: 2048,
  referrerMaxLength: 2048,
  userIdMaxLength: 256,
  propsMaxKeys: 30,
  propKeyMaxLength: 64,
  propStringMaxLength: 500,
  /** Each of `utmSource` … `utmContent` (SPEC §10). */
  utmMaxLength: 256,
  /** RFC 5646's recommended storage size for a language tag. */
  languageMaxLength: 35,
  /** CSS pixels; anything wider is not a screen. */
  screenWidthMax: 100_000,
  /** A timestamp may run this far ahead of the server clock (clock skew, time zones gone wrong). */
  maxFutureSkewMs: 24 * 60 * 60 * 1000,
  batchMaxEvents: 100,
  /** Bytes of request body, for one event or a batch. */
  bodyMaxBytes: 64 * 1024,
  statsMaxRangeDays: 366,
  statsDefaultTopPaths: 10,
  statsMaxTopPaths: 100,
  /** Days the stats API takes: ones PostgreSQL and JS both hold, a range's day after (10000-01-01) too. */
  statsMinDate: '1970-01-01',
  statsMaxDate: '9999-12-31',
  /**
   * PostgreSQL refuses a btree index entry over 2704 bytes (a third of an 8 KiB
   * page). The widest key Tally builds — site_daily_event_counts' primary key
   * (site_id, date, event_type, path) — stays below it with the limits above:
   * 128 + 4 + 64 × 3 + 2048 bytes plus tuple overhead (`limits.test.ts`).
   */
  indexEntryMaxBytes: 2704,
} as const;

/** The length of `value` in UTF-8 bytes, what PostgreSQL stores (no encoder needed, so it runs anywhere). */
export function utf8Length(value: string): number {
  let bytes = value.length;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    // One unit below 0x80 is 1 byte, below 0x800 is 2, else 3; a surrogate pair (2 units) is 4.
    if (unit >= 0x80) bytes += unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

export const SITE_ID_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/** A BCP 47-shaped language tag (`en`, `en-US`, `zh-Hant-TW`): a 1–8 letter language, then subtags of 1–8 letters or digits. */
export const LANGUAGE_PATTERN = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/;

/** Any UUID (ids from clients need not be version 4). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * NUL, which PostgreSQL text cannot hold, and unpaired UTF-16 surrogates, which
 * jsonb refuses (and text would silently turn into U+FFFD). Refused at the
 * edge: one such string reaching the worker would fail its whole batch, and
 * one in a stats query would fail the query.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point.
export const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The BullMQ queue every producer and worker agrees on. */
export const EVENTS_QUEUE_NAME = 'analytics-events';

/** Name of the first-party cookie holding the visitor id. */
export const VISITOR_COOKIE = 'visitor_id';

export const VISITOR_COOKIE_MAX_AGE_SECONDS = 31_536_000;

/** One day in milliseconds: UTC days are this long; site-local days may not be. */
export const DAY_MS = 86_400_000;
