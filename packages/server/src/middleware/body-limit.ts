/** Caps request bodies (declared or chunked) at `maxBytes`, answering 413 in the one error shape. */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { PayloadTooLargeError } from '../errors.js';

export function bodyLimit({ maxBytes }: { maxBytes: number }): MiddlewareHandler {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new PayloadTooLargeError(maxBytes);
    },
  });
}
