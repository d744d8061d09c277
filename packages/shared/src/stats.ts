/** The stats query and its answer (SPEC §2, GET /api/stats). */
import { z } from 'zod';
import { DAY_MS, LIMITS, UNSTORABLE } from './limits.js';
import { siteIdSchema } from './sites.js';

const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

function isRealDate(value: string): boolean {
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(value);
}

function dateParam(field: string) {
  return z
    .string({ error: `${field} must be a date in YYYY-MM-DD format` })
    .regex(DATE_PATTERN, { message: `${field} must be a date in YYYY-MM-DD format`, abort: true })
    .refine(isRealDate, { message: `${field} must be a real calendar date`, abort: true })
    .refine((value) => value >= LIMITS.statsMinDate && value <= LIMITS.statsMaxDate, {
      message: `${field} must be between ${LIMITS.statsMinDate} and ${LIMITS.statsMaxDate}`,
    });
}

export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** Strict, as event bodies are: a misspelt parameter (`site_id`) is a 400 naming it, not silently ignored. */
export const statsQuerySchema = z
  .strictObject({
    siteId: siteIdSchema,
    date: dateParam('date').optional(),
    from: dateParam('from').optional(),
    to: dateParam('to').optional(),
    limit: z.coerce
      .number({ error: 'limit must be a whole number' })
      .int('limit must be a whole number')
      .min(1, 'limit must be at least 1')
      .max(LIMITS.statsMaxTopPaths, `limit must be at most ${LIMITS.statsMaxTopPaths}`)
      .optional(),
    eventType: z
      .string()
      .min(1, 'eventType should not be empty')
      .max(LIMITS.eventTypeMaxLength, `eventType must be at most ${LIMITS.eventTypeMaxLength} characters`)
      .refine((value) => !UNSTORABLE.test(value), 'eventType must not contain NUL (\\u0000) or unpaired surrogates')
      .optional(),
  })
  .superRefine((query, ctx) => {
    const hasRange = query.from !== undefined || query.to !== undefined;
    if (query.date === undefined && !hasRange) {
      ctx.addIssue({ code: 'custom', path: ['date'], message: 'date should not be empty (or give from and to)' });
      return;
    }
    if (query.date !== undefined && hasRange) {
      ctx.addIssue({ code: 'custom', path: ['date'], message: 'date cannot be combined with from and to' });
      return;
    }
    if (!hasRange) return;
    if (query.from === undefined || query.to === undefined) {
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'from and to must be given together' });
      return;
    }
    const days = daysBetween(query.from, query.to);
    if (days < 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must not be before from' });
    if (days >= LIMITS.statsMaxRangeDays)
      ctx.addIssue({
        code: 'custom',
        path: ['from'],
        message: `from and to must span at most ${LIMITS.statsMaxRangeDays} days`,
      });
  });

export type StatsQuery = z.output<typeof statsQuerySchema>;

const pathViewsSchema = z.object({ path: z.string(), views: z.number().int() });
const dailySchema = z.object({ date: z.string(), totalViews: z.number().int(), uniqueUsers: z.number().int() });

export const statsResponseSchema = z.object({
  siteId: z.string(),
  date: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  eventType: z.string().optional(),
  totalViews: z.number().int(),
  uniqueUsers: z.number().int(),
  topPaths: z.array(pathViewsSchema),
  daily: z.array(dailySchema).optional(),
});

export type StatsResponse = z.infer<typeof statsResponseSchema>;
