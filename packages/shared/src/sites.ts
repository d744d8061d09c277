/** What identifies a site on the wire, and a site's settings (SPEC §9, the sites API). */
import { z } from 'zod';
import { LIMITS, SITE_ID_PATTERN } from './limits.js';

export const siteIdSchema = z
  .string({
    error: (issue) => (issue.input === undefined ? 'siteId should not be empty' : 'siteId must be a string'),
  })
  .min(1, { message: 'siteId should not be empty', abort: true })
  .max(LIMITS.siteIdMaxLength, `siteId must be at most ${LIMITS.siteIdMaxLength} characters`)
  .regex(SITE_ID_PATTERN, 'siteId must contain only letters, digits and _ . : -');

/** Whether `Intl` knows `zone` as an IANA time zone name. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.length > 0 && zone.length <= 64;
  } catch {
    return false;
  }
}

/** A host name as it appears in a URL (lower case, no port, no scheme). */
const hostnameSchema = z
  .string({ error: 'allowedHostnames must hold host names' })
  .min(1, 'allowedHostnames must not hold empty names')
  .max(253, 'allowedHostnames entries must be at most 253 characters')
  .regex(
    /^[A-Za-z0-9.-]+$/,
    'allowedHostnames entries must be host names (letters, digits, . and -; no scheme or port)',
  )
  .transform((host) => host.toLowerCase());

/** The body of `PUT /api/sites/:siteId`: every field optional; those given are changed. */
export const siteSettingsSchema = z.strictObject(
  {
    timeZone: z
      .string({ error: 'timeZone must be a string' })
      .refine(isTimeZone, 'timeZone must be an IANA time zone name such as Europe/Berlin')
      .optional(),
    public: z.boolean({ error: 'public must be true or false' }).optional(),
    allowedHostnames: z
      .array(hostnameSchema, { error: 'allowedHostnames must be an array of host names or null' })
      .max(100, 'allowedHostnames must hold at most 100 names')
      .nullable()
      .optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? undefined : 'body must be a JSON object') },
);

/** A site as the sites API answers it. */
export const siteSchema = z.object({
  siteId: z.string(),
  timeZone: z.string(),
  public: z.boolean(),
  allowedHostnames: z.array(z.string()).nullable(),
  createdAt: z.string(),
  /** First and last site-local day with events, and the events counted; null/0 before the first. */
  firstDay: z.string().nullable(),
  lastDay: z.string().nullable(),
  events: z.number().int(),
});

export const siteListSchema = z.object({ sites: z.array(siteSchema) });

/** A site's dashboard share link after `POST` (a new secret) or `DELETE` (none) on `/api/sites/:siteId/share`. */
export const siteShareSchema = z.object({
  siteId: z.string(),
  /** Opens the site's dashboard to whoever holds it; `null` once revoked. */
  shareSecret: z.string().nullable(),
  /** The dashboard link carrying the secret, relative to the server; `null` once revoked. */
  shareUrl: z.string().nullable(),
});

export type SiteSettings = z.output<typeof siteSettingsSchema>;
export type Site = z.output<typeof siteSchema>;
export type SiteShare = z.output<typeof siteShareSchema>;
