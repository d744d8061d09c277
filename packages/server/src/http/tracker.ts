/**
 * `GET /tally.js`: the tracker IIFE of @tally/sdk (SPEC §2), so that a site
 * needs only `<script defer src="https://stats.example.com/tally.js" data-site-id="…">`.
 * The script text is passed in (`main.ts` reads the built file); without it the
 * route answers 404 in the error shape. Cached by strong ETag, gzipped once.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { Hono } from 'hono';
import { NotFoundError } from '../errors.js';

/** An hour: a new release reaches every visitor within it; the ETag makes the revalidation cheap. */
export const TRACKER_CACHE_CONTROL = 'public, max-age=3600';

/** The built tracker at `file`, or `undefined` when it has not been built. */
export function readTrackerScript(file: URL | string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The SDK's built `tally.js`, found through the @tally/sdk package (its `./tally.js` export): the
 * workspace link in the repository, `node_modules` where @tally/server is installed from a tarball.
 */
export function loadTrackerScript(): string | undefined {
  try {
    return readTrackerScript(createRequire(import.meta.url).resolve('@tally/sdk/tally.js'));
  } catch {
    return undefined; // not built or not installed: GET /tally.js answers 404 saying so
  }
}

/** `If-None-Match` holds `etag` (weakly compared, as RFC 9110 asks for GET), or `*`. */
function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const value = tag.trim();
    return value === '*' || value === etag || value === `W/${etag}`;
  });
}

/** Serves the tracker at `path` (`/tally.js` by default; a host that embeds Tally picks a name block lists do not know). */
export function trackerRoutes({ script, path = '/tally.js' }: { script?: string | undefined; path?: string }) {
  const app = new Hono();
  if (script === undefined) {
    return app.get(path, () => {
      throw new NotFoundError('tally.js has not been built: run `npm run build -w @tally/sdk`');
    });
  }
  const etag = `"${createHash('sha256').update(script).digest('base64url').slice(0, 32)}"`;
  const gzipped = gzipSync(script, { level: 9 });
  return app.get(path, (c) => {
    const headers: Record<string, string> = {
      ETag: etag,
      'Cache-Control': TRACKER_CACHE_CONTROL,
      Vary: 'Accept-Encoding',
      // Lets pages load it with `crossorigin` (and Subresource Integrity).
      'Access-Control-Allow-Origin': '*',
    };
    if (matchesEtag(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
    headers['Content-Type'] = 'application/javascript; charset=utf-8';
    if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
      headers['Content-Encoding'] = 'gzip';
      return c.body(new Uint8Array(gzipped), 200, headers);
    }
    return c.body(script, 200, headers);
  });
}
