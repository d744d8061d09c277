/**
 * One Tally per server process, made on first use. The route handler under
 * `app/%5Ft/[...path]/route.ts` hands it every request to `/_t/*`.
 */
import { type Tally } from '@tally/server';
export declare function getTally(): Promise<Tally>;
