/**
 * The numeric limits of the wire contract (SPEC §2). Both the tracker and the
 * server read them from here so that a batch the SDK builds is never one the
 * server refuses for its size.
 */
export const LIMITS = {
  siteIdMaxLength: 128,
  eventTypeMaxLength: 64,
  pathMaxLength: 2048,
  referrerMaxLength: 2048,
  userIdMaxLength: 256,
  propsMaxKeys: 30,
  propKeyMaxLength: 64,
  propStringMaxLength: 500,
  /** `utmSource` … `utmContent`. */
  utmMaxLength: 256,
  /** A BCP 47 language tag. */
  languageMaxLength: 35,
  /** `screenWidth` in CSS pixels. */
  screenWidthMax: 100_000,
  /** A timestamp may run this far ahead of the server clock (clock skew, time zones gone wrong). */
  maxFutureSkewMs: 24 * 60 * 60 * 1000,
  batchMaxEvents: 100,
  /** Bytes of request body, for one event or a batch. */
  bodyMaxBytes: 64 * 1024,
  statsMaxRangeDays: 366,
  statsDefaultTopPaths: 10,
  statsMaxTopPaths: 100,
} as const;

export const SITE_ID_PATTERN = /^[A-Za-z0-9_.:-]+$/;

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
