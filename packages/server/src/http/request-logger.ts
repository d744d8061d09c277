/**
 * One structured log line per request at `debug` (so the default `info` level
 * stays quiet under load: no line per event), carrying the request id that
 * hono's `requestId` middleware set and echoed in `X-Request-Id`.
 */
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';

export function requestLogger({ logger }: { logger: Logger }): MiddlewareHandler {
  return async function requestLoggerHandler(c, next) {
    if (!logger.isLevelEnabled('debug')) return next();
    const started = performance.now();
    await next();
    logger.debug(
      {
        requestId: c.get('requestId'),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      'request',
    );
  };
}
