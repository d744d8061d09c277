/**
 * Next.js App Router: every request under `/_t` goes to Tally — the tracker
 * (`/_t/s.js`), collection (`/_t/api/events`) and stats (`/_t/api/stats`).
 * Node.js runtime only (Tally uses PostgreSQL and Redis clients).
 */
import { getTally } from '../../../lib/tally';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

const handle = async (request: Request): Promise<Response> => (await getTally()).fetch(request);

export const GET = handle;
export const POST = handle;
export const OPTIONS = handle;
