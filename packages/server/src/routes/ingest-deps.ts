import type { CookieOptions } from '../ingest.js';
import type { EventQueue } from '../queue/types.js';

/** What the ingestion routes need: where events go and how the visitor cookie is set. */
export interface IngestDeps {
  queue: EventQueue;
  cookie: CookieOptions;
}
