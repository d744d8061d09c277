/**
 * The client's IP address, for rate limiting and cookieless visitor ids (never
 * stored). The socket address by default; `X-Forwarded-For` only as far as
 * `TRUST_PROXY` says (see `env.ts`), since any client can send that header.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

/** Long enough for any IPv6 address with a zone; a longer forwarded value is junk and is cut. */
const MAX_ADDRESS_LENGTH = 64;

/** The socket's remote address; `'unknown'` when there is no socket (e.g. `app.request()` in tests). */
function socketAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * @param trustedHops 0: ignore `X-Forwarded-For`; N: the Nth address from its
 * right (each trusted proxy appends the address it saw); Infinity: the leftmost.
 */
export function clientIp(c: Context, trustedHops: number): string {
  if (trustedHops > 0) {
    const forwarded = c.req.header('x-forwarded-for');
    if (forwarded) {
      const hops = forwarded.split(',');
      const index = trustedHops === Number.POSITIVE_INFINITY ? 0 : Math.max(0, hops.length - trustedHops);
      const address = hops[index]?.trim();
      if (address) return address.slice(0, MAX_ADDRESS_LENGTH);
    }
  }
  return socketAddress(c);
}
