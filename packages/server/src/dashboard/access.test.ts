import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createSessions, isSameOrigin, isStatsKey, SESSION_MAX_AGE_SECONDS, shareOpens } from './access.js';

describe('dashboard sessions', () => {
  const sessions = createSessions(['key-a', 'key-b']);

  it('accepts its own token until it expires, and nothing else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const token = sessions.issue(now);
    expect(sessions.verify(token, now)).toBe(true);
    expect(sessions.verify(token, now + (SESSION_MAX_AGE_SECONDS - 1) * 1000)).toBe(true);
    expect(sessions.verify(token, now + SESSION_MAX_AGE_SECONDS * 1000)).toBe(false);
    const [expires, signature] = token.split('.');
    // A later expiry with the old signature, a changed signature, junk: all refused.
    expect(sessions.verify(`${Number(expires) + 86_400}.${signature}`, now)).toBe(false);
    expect(sessions.verify(`${expires}.${signature?.slice(1)}x`, now)).toBe(false);
    for (const junk of [undefined, '', '.', 'abc.def', `${expires}`]) expect(sessions.verify(junk, now)).toBe(false);
  });

  it('ends every session when the stats keys change, whatever their order', () => {
    const token = sessions.issue();
    expect(createSessions(['key-b', 'key-a']).verify(token)).toBe(true);
    expect(createSessions(['key-a']).verify(token)).toBe(false);
    expect(createSessions(['key-a', 'key-c']).verify(token)).toBe(false);
  });
});

describe('keys and share secrets', () => {
  it('matches a configured key only', () => {
    expect(isStatsKey(['one', 'two'], 'two')).toBe(true);
    expect(isStatsKey(['one', 'two'], 'three')).toBe(false);
    expect(isStatsKey(['one'], '')).toBe(false);
    expect(isStatsKey(['one'], undefined)).toBe(false);
  });

  it('opens a site only with its current secret', () => {
    expect(shareOpens({ public: false, shareSecret: 's3cret' }, 's3cret')).toBe(true);
    expect(shareOpens({ public: false, shareSecret: 's3cret' }, 'other')).toBe(false);
    expect(shareOpens({ public: false, shareSecret: null }, 's3cret')).toBe(false);
    expect(shareOpens(undefined, 's3cret')).toBe(false);
    expect(shareOpens({ public: false, shareSecret: 's3cret' }, undefined)).toBe(false);
  });
});

describe('same-origin requests', () => {
  const app = new Hono().post('/', (c) => c.json(isSameOrigin(c)));
  const ask = async (headers: Record<string, string>) =>
    (await app.request('http://stats.example/', { method: 'POST', headers })).json();

  it('trusts Sec-Fetch-Site first, then Origin; no header is not same-origin', async () => {
    expect(await ask({ 'sec-fetch-site': 'same-origin' })).toBe(true);
    expect(await ask({ 'sec-fetch-site': 'same-site', origin: 'http://stats.example' })).toBe(false);
    expect(await ask({ 'sec-fetch-site': 'cross-site' })).toBe(false);
    expect(await ask({ 'sec-fetch-site': 'none' })).toBe(false);
    expect(await ask({ origin: 'http://stats.example' })).toBe(true);
    expect(await ask({ origin: 'https://evil.example' })).toBe(false);
    expect(await ask({ origin: 'null' })).toBe(false);
    expect(await ask({})).toBe(false);
  });
});
