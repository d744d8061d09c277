/** What identifies a site on the wire: one schema for events, stats queries and (later) the sites API. */
import { z } from 'zod';
import { LIMITS, SITE_ID_PATTERN } from './limits.js';

export const siteIdSchema = z
  .string({
    error: (issue) => (issue.input === undefined ? 'siteId should not be empty' : 'siteId must be a string'),
  })
  .min(1, { message: 'siteId should not be empty', abort: true })
  .max(LIMITS.siteIdMaxLength, `siteId must be at most ${LIMITS.siteIdMaxLength} characters`)
  .regex(SITE_ID_PATTERN, 'siteId must contain only letters, digits and _ . : -');
