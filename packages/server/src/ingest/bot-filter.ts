/**
 * Bots, told apart by User-Agent with the maintained `isbot` list: their
 * events are answered exactly like anyone's (202, same receipt, so a bot
 * learns nothing) but never queued, and counted in `/metrics` by reason.
 *
 * HTTP libraries and command-line clients (curl, Node's fetch, python-requests
 * …) are taken off the list: they are how backends send server-side events and
 * how the original design's curl workflow runs, and a page's tracker never
 * uses them. Headless browsers, crawlers, link previewers and monitors stay.
 */
import type { Context } from 'hono';
import { createIsbotFromList, list } from 'isbot';

/**
 * Why events were not stored: `user_agent` a bot (answered 202), `origin` not in `ALLOWED_ORIGINS`
 * (answered 403), `hostname` a page not on one of the site's `allowedHostnames` (answered 202).
 */
export type FilterReason = 'user_agent' | 'origin' | 'hostname';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set when a request's events were dropped or refused, by reason; read by the ingest metrics. */
    filteredEvents?: { reason: FilterReason; events: number }[];
  }
}

/** User-Agents of HTTP clients that servers and scripts use; whatever pattern matches one of them is dropped. */
const SERVER_SIDE_CLIENTS = [
  'curl/8.5.0',
  'Wget/1.21.4',
  'node',
  'undici',
  'node-fetch/1.0',
  'axios/1.7.2',
  'got (https://github.com/sindresorhus/got)',
  'python-requests/2.32.3',
  'python-urllib3/2.2.2',
  'Python-urllib/3.12',
  'aiohttp/3.9.5',
  'httpx/0.27.0',
  'Go-http-client/1.1',
  'okhttp/4.12.0',
  'Java/17.0.2',
  'Apache-HttpClient/4.5.14 (Java/17.0.2)',
  'PostmanRuntime/7.39.0',
  'insomnia/2023.5.8',
  'HTTPie/3.2.2',
  'Ruby',
  'Faraday v2.9.0',
  'GuzzleHttp/7',
  'libwww-perl/6.72',
  'Deno/1.44.0',
  'Bun/1.1.0',
  'autocannon',
];

const isBotUserAgent = createIsbotFromList(
  list.filter((pattern) => {
    const regex = new RegExp(pattern, 'i');
    return !SERVER_SIDE_CLIENTS.some((agent) => regex.test(agent));
  }),
);

/** Verdicts for recent User-Agents: a site's traffic repeats a few thousand of them. */
const CACHE_SIZE = 2_000;

export interface BotFilter {
  /** Whether the request comes from a bot; an absent User-Agent is not taken for one. */
  isBot(c: Context): boolean;
}

export function createBotFilter(): BotFilter {
  const verdicts = new Map<string, boolean>();
  return {
    isBot(c) {
      const agent = c.req.header('user-agent');
      if (!agent) return false;
      let verdict = verdicts.get(agent);
      if (verdict === undefined) {
        verdict = isBotUserAgent(agent);
        if (verdicts.size >= CACHE_SIZE) verdicts.clear();
        verdicts.set(agent, verdict);
      }
      return verdict;
    },
  };
}

/** Records on the context that the route dropped `events` events, for the metrics middleware. */
export function markFiltered(c: Context, reason: FilterReason, events: number): void {
  c.set('filteredEvents', [...(c.get('filteredEvents') ?? []), { reason, events }]);
}
