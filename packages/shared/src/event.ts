/**
 * The event as it travels over the wire: one event (`POST /api/event`) or a
 * batch of them (`POST /api/events`). Messages name their field so that the
 * server can return them as they are.
 */
import { z } from 'zod';
import { LIMITS, UNSTORABLE, UUID_PATTERN } from './limits.js';
import { siteIdSchema } from './sites.js';

/** The message for a string PostgreSQL cannot store, naming the field. */
function unstorableMessage(field: string, input: unknown): string {
  return typeof input === 'string' && input.includes('\u0000')
    ? `${field} must not contain the NUL character (\\u0000)`
    : `${field} must be valid Unicode (no unpaired surrogates)`;
}

function storable<T extends z.ZodString>(schema: T, field: string) {
  return schema.refine((value) => !UNSTORABLE.test(value), {
    error: (issue) => unstorableMessage(field, issue.input),
  });
}

/** A required string field with the "should not be empty" message of the original design. */
function text(field: string, max: number) {
  const schema = z
    .string({
      error: (issue) => (issue.input === undefined ? `${field} should not be empty` : `${field} must be a string`),
    })
    .min(1, { message: `${field} should not be empty`, abort: true })
    .max(max, `${field} must be at most ${max} characters`);
  return storable(schema, field);
}

function optionalText(field: string, max: number) {
  return storable(
    z.string({ error: `${field} must be a string` }).max(max, `${field} must be at most ${max} characters`),
    field,
  ).optional();
}

function uuid(field: string) {
  return z.string({ error: `${field} must be a UUID` }).regex(UUID_PATTERN, `${field} must be a UUID`);
}

const ISO_DATETIME = z.iso.datetime({ offset: true, local: false });
/** PostgreSQL refuses offsets of 16 h and more; real ones run from -12:00 to +14:00. */
const OFFSET_HOURS = /([+-])(\d{2}):?\d{2}$/;
function offsetInRange(value: string): boolean {
  const offset = OFFSET_HOURS.exec(value);
  return offset === null || Number(offset[2]) <= 14;
}

export const timestampSchema = z
  .string({
    error: (issue) =>
      issue.input === undefined ? 'timestamp should not be empty' : 'timestamp must be a valid ISO 8601 date string',
  })
  .refine((value) => ISO_DATETIME.safeParse(value).success && !Number.isNaN(Date.parse(value)), {
    message: 'timestamp must be a valid ISO 8601 date string',
    abort: true,
  })
  .refine(offsetInRange, { message: 'timestamp must have a UTC offset between -14:00 and +14:00', abort: true })
  .refine((value) => Date.parse(value) >= 0, { message: 'timestamp must not be before 1970-01-01', abort: true })
  .refine((value) => Date.parse(value) <= Date.now() + LIMITS.maxFutureSkewMs, {
    message: 'timestamp must not be more than 24 hours in the future',
  });

const propValue = z.union(
  [
    z
      .string()
      .max(LIMITS.propStringMaxLength, `must be at most ${LIMITS.propStringMaxLength} characters`)
      .refine((value) => !UNSTORABLE.test(value), 'must not contain NUL (\\u0000) or unpaired surrogates'),
    z.number().finite(),
    z.boolean(),
  ],
  {
    error: `must be a string of at most ${LIMITS.propStringMaxLength} characters, a finite number or a boolean`,
  },
);

/**
 * The checks on props keys. A zod record cannot make them itself: it skips a
 * `__proto__` key without a word (so the event would be stored without it) and
 * reports a bad key only as "props must be an object".
 */
function checkPropKeys(value: unknown, ctx: z.RefinementCtx): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  for (const key of Object.keys(value)) {
    let problem: string | undefined;
    if (key === '') problem = 'props keys should not be empty';
    else if (key.length > LIMITS.propKeyMaxLength)
      problem = `props keys must be at most ${LIMITS.propKeyMaxLength} characters`;
    else if (key === '__proto__') problem = 'props keys must not be __proto__';
    else if (UNSTORABLE.test(key)) problem = 'props keys must not contain NUL (\\u0000) or unpaired surrogates';
    if (problem) ctx.addIssue({ code: 'custom', message: problem, input: key });
  }
}

export const propsSchema = z.preprocess(
  (value, ctx) => {
    checkPropKeys(value, ctx);
    return value;
  },
  z
    .record(z.string().min(1).max(LIMITS.propKeyMaxLength), propValue, { error: 'props must be an object' })
    .refine((props) => Object.keys(props).length <= LIMITS.propsMaxKeys, {
      message: `props must have at most ${LIMITS.propsMaxKeys} keys`,
    }),
);

export const eventSchema = z.strictObject(
  {
    siteId: siteIdSchema,
    eventType: text('eventType', LIMITS.eventTypeMaxLength),
    path: text('path', LIMITS.pathMaxLength),
    timestamp: timestampSchema,
    eventId: uuid('eventId').optional(),
    visitorId: uuid('visitorId').optional(),
    userId: optionalText('userId', LIMITS.userIdMaxLength),
    referrer: optionalText('referrer', LIMITS.referrerMaxLength),
    props: propsSchema.optional(),
    utmSource: optionalText('utmSource', LIMITS.utmMaxLength),
    utmMedium: optionalText('utmMedium', LIMITS.utmMaxLength),
    utmCampaign: optionalText('utmCampaign', LIMITS.utmMaxLength),
    utmTerm: optionalText('utmTerm', LIMITS.utmMaxLength),
    utmContent: optionalText('utmContent', LIMITS.utmMaxLength),
    language: optionalText('language', LIMITS.languageMaxLength),
    screenWidth: z
      .number({ error: 'screenWidth must be a whole number' })
      .int('screenWidth must be a whole number')
      .min(0, 'screenWidth must not be negative')
      .max(LIMITS.screenWidthMax, `screenWidth must be at most ${LIMITS.screenWidthMax}`)
      .optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? undefined : 'event must be a JSON object') },
);

export const batchSchema = z.strictObject(
  {
    events: z
      .array(z.unknown(), { error: 'events must be an array' })
      .min(1, 'events should not be empty')
      .max(LIMITS.batchMaxEvents, `events must contain at most ${LIMITS.batchMaxEvents} events`),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? undefined : 'body must be a JSON object') },
);

/** An event as a client sends it. */
export type EventInput = z.input<typeof eventSchema>;
/** An event after validation. */
export type Event = z.output<typeof eventSchema>;
