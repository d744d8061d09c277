/**
 * Unit-test network for the SDK: an msw server that plays the Tally API at
 * `https://example.com/api/events` (and any other origin asked for), records
 * every batch it receives, and parses each one with the server's own schemas,
 * so every test doubles as a contract test. Unhandled requests are errors.
 */
import { batchSchema, eventSchema } from '@tally/shared';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterEach, beforeAll, expect } from 'vitest';
import type { TallyEvent } from '../src/tracker.js';

export interface Received {
  url: string;
  contentType: string | null;
  bytes: number;
  events: TallyEvent[];
}

type Reply = (received: Received) => Response | undefined;

export const received: Received[] = [];
export const contractErrors: string[] = [];
let reply: Reply = () => undefined;

/** Makes the API answer with `fn` (return `undefined` for the default 202) until the next test. */
export function answerWith(fn: Reply): void {
  reply = fn;
}

/** Events received so far for `siteId`, in order. */
export function eventsOf(siteId: string): TallyEvent[] {
  return received.flatMap((r) => r.events).filter((e) => e.siteId === siteId);
}

/** Requests received so far that carried events of `siteId`. */
export function requestsOf(siteId: string): Received[] {
  return received.filter((r) => r.events.some((e) => e.siteId === siteId));
}

const server = setupServer(
  http.post('*/api/events', async ({ request }) => {
    const text = await request.text();
    const body = JSON.parse(text);
    const envelope = batchSchema.safeParse(body);
    if (!envelope.success) contractErrors.push(JSON.stringify(envelope.error.issues));
    for (const event of body.events ?? []) {
      const parsed = eventSchema.safeParse(event);
      if (!parsed.success) contractErrors.push(JSON.stringify(parsed.error.issues));
    }
    const entry: Received = {
      url: request.url,
      contentType: request.headers.get('content-type'),
      bytes: new TextEncoder().encode(text).length,
      events: body.events,
    };
    received.push(entry);
    return (
      reply(entry) ??
      HttpResponse.json({ success: true, accepted: body.events.length, eventIds: [], rejected: [] }, { status: 202 })
    );
  }),
);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  reply = () => undefined;
  expect(contractErrors, 'every payload parses under batchSchema + eventSchema').toEqual([]);
});
// Never closed: happy-dom fires `pagehide` as it tears the window down after the last test, and
// the beacons that sends must still land here rather than on the real network.
