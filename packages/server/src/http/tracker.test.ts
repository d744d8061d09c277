import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { silentLogger, testConfig } from '../../test/support.js';
import { createApp } from '../app.js';
import { readTrackerScript } from './tracker.js';

const SCRIPT = '(()=>{window.tallyLoaded=1})();';

/** The real app; the tracker route touches none of the connections, so none are opened. */
function appWith(trackerScript?: string) {
  return createApp({
    statsDb: {} as never,
    pingDatabase: async () => {},
    queue: { counts: async () => ({}) } as never,
    config: testConfig(),
    logger: silentLogger,
    trackerScript,
  });
}

describe('GET /tally.js', () => {
  test('serves the script as JavaScript with an ETag and Cache-Control', async () => {
    const response = await appWith(SCRIPT).request('/tally.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(response.headers.get('etag')).toMatch(/^"[\w-]{32}"$/);
    expect(await response.text()).toBe(SCRIPT);
  });

  test('If-None-Match with the current ETag (strong, weak, in a list, or *) answers 304 without a body', async () => {
    const app = appWith(SCRIPT);
    const etag = (await app.request('/tally.js')).headers.get('etag') as string;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"old", ${etag}`, '*']) {
      const response = await app.request('/tally.js', { headers: { 'If-None-Match': ifNoneMatch } });
      expect(response.status, ifNoneMatch).toBe(304);
      expect(response.headers.get('etag')).toBe(etag);
      expect(response.headers.get('cache-control')).toBe('public, max-age=3600');
      expect(await response.text()).toBe('');
    }
    const stale = await app.request('/tally.js', { headers: { 'If-None-Match': '"something-else"' } });
    expect(stale.status).toBe(200);
  });

  test('a new script gets a new ETag', async () => {
    const a = (await appWith(SCRIPT).request('/tally.js')).headers.get('etag');
    const b = (await appWith(`${SCRIPT}\n`).request('/tally.js')).headers.get('etag');
    expect(a).not.toBe(b);
  });

  test('gzips for clients that accept it', async () => {
    const response = await appWith(SCRIPT).request('/tally.js', { headers: { 'Accept-Encoding': 'br, gzip' } });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.headers.get('vary')).toBe('Accept-Encoding');
    expect(gunzipSync(Buffer.from(await response.arrayBuffer())).toString()).toBe(SCRIPT);
  });

  test('without a built script it answers 404 in the error shape', async () => {
    const response = await appWith(undefined).request('/tally.js');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      statusCode: 404,
      message: 'tally.js has not been built: run `npm run build -w @tally/sdk`',
      error: 'Not Found',
    });
  });

  test('readTrackerScript returns the file, or undefined when it is missing', () => {
    expect(readTrackerScript(new URL(import.meta.url))).toContain('readTrackerScript');
    expect(readTrackerScript('/nonexistent/tally.js')).toBeUndefined();
  });
});
