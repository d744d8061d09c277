/**
 * Reading an ingestion body: JSON, whether it arrives as `application/json` or
 * as `text/plain` (what `sendBeacon` sends).
 */
import type { Context } from 'hono';
import { UnsupportedMediaTypeError, ValidationError } from '../errors.js';

const BLANK = /^\s*$/;
const JSON_OR_TEXT = /^(application\/([a-z0-9.+-]*\+)?json|text\/plain)\s*(;|$)/i;

/** Parses the body as JSON whatever of `application/json` or `text/plain` it came as. */
export async function readJsonBody(c: Context): Promise<unknown> {
  const contentType = c.req.header('content-type') ?? '';
  if (contentType !== '' && !JSON_OR_TEXT.test(contentType)) throw new UnsupportedMediaTypeError(contentType);
  const text = await c.req.text();
  // A regex stops at the first non-blank character; trim() would copy the whole body.
  if (BLANK.test(text)) throw new ValidationError(['body should not be empty']);
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError(['body must be valid JSON']);
  }
}
