/**
 * Getting a batch to the server. The body is JSON sent as `text/plain`, a
 * "simple" request, so no CORS preflight is needed. `sendBeacon` is for a page
 * that is going away; `fetch` with `keepalive` is the ordinary path and the
 * fallback, and with `credentials: 'include'` it carries the `visitor_id`
 * cookie of an API on another origin.
 */

const body = (events: object[]): string => JSON.stringify({ events });

/**
 * POSTs a batch. Resolves `true` when the server took it or refused it for
 * good (4xx other than 429: resending cannot help), `false` when it should be
 * retried (network error, 429, 5xx). Never rejects.
 */
export const postBatch = (url: string, events: object[]): Promise<boolean> =>
  fetch(url, {
    method: 'POST',
    body: body(events),
    headers: { 'Content-Type': 'text/plain' },
    keepalive: true,
    credentials: 'include',
  }).then(
    (response) => response.status < 500 && response.status !== 429,
    () => false,
  );

/** Hands a batch to `navigator.sendBeacon`; `false` when the browser refused it or has no beacon. */
export const beaconBatch = (url: string, events: object[]): boolean => {
  try {
    return navigator.sendBeacon(url, body(events));
  } catch {
    return false;
  }
};
