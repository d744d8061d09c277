/**
 * The load generator, run as its own process so it never shares an event loop
 * with the server or the bench's probes. Takes one JSON argument, prints one
 * JSON line of results.
 *
 *   mode: 'event' | 'batch' | 'get'; url; connections; duration (s) or amount (requests);
 *   overallRate (req/s, optional); batchSize; siteId; date.
 */
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2]);
const { mode, url, connections, duration, amount, overallRate, batchSize = 20, siteId = 'bench', date } = options;

const PATHS = 200;
const VISITORS = 10_000;
let n = 0;
const visitorId = (i) => `00000000-0000-4000-8000-${(i % VISITORS).toString(16).padStart(12, '0')}`;
const timestamp = `${date}T12:00:00.000Z`;

function event() {
  n += 1;
  return {
    siteId,
    eventType: n % 10 === 0 ? 'click' : 'page_view',
    path: `/page/${n % PATHS}`,
    timestamp,
    visitorId: visitorId(n * 7919),
  };
}

// A browser's User-Agent: the server drops events from known bots.
const HEADERS = {
  'content-type': 'application/json',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
};

const requests =
  mode === 'get'
    ? [{ method: 'GET' }]
    : [
        {
          method: 'POST',
          setupRequest(request) {
            const body = mode === 'batch' ? { events: Array.from({ length: batchSize }, event) } : event();
            return { ...request, headers: HEADERS, body: JSON.stringify(body) };
          },
        },
      ];

const instance = autocannon({
  url,
  connections,
  ...(amount ? { amount } : { duration }),
  ...(overallRate ? { overallRate } : {}),
  requests,
  timeout: 30,
});
instance.on('done', (result) => {
  process.stdout.write(
    `${JSON.stringify({
      requests: result.requests.total,
      rps: result.requests.average,
      seconds: result.duration,
      ok: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      p50: result.latency.p50,
      p99: result.latency.p99,
    })}\n`,
  );
});
