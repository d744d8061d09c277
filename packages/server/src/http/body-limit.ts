/**
 * Caps request bodies at `maxBytes`, answering 413 in the one error shape.
 * A declared `Content-Length` is checked from the header alone (Node's parser
 * holds the body to that length), which leaves the body unread so that the
 * route reads it on @hono/node-server's fast path, straight from the socket.
 * Only chunked bodies are counted as they stream in.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { PayloadTooLargeError } from '../errors.js';

export function bodyLimit({ maxBytes }: { maxBytes: number }): MiddlewareHandler {
  const tooLarge = () => {
    throw new PayloadTooLargeError(maxBytes);
  };
  const countStreamed = honoBodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async function bodyLimitHandler(c, next) {
    const declared = c.req.header('content-length');
    if (declared !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(declared) > maxBytes) tooLarge();
      return next();
    }
    return countStreamed(c, next);
  };
}
