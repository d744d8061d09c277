/**
 * The few facts of the `sites` table (SPEC §9) the dashboard needs: whether a
 * site is public, its share secret (made, replaced or dropped here), and the
 * list of site ids for the home page's picker.
 */
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../db/client.js';
import { newShareSecret, type SiteAccess, type SiteAccessLookup } from './access.js';

export function siteAccessLookup(db: Database): SiteAccessLookup {
  return async (siteId) => {
    const [row] = await queryRows<{ public: boolean; share_secret: string | null }>(
      db,
      sql`SELECT public, share_secret FROM sites WHERE site_id = ${siteId}`,
    );
    return row ? ({ public: row.public, shareSecret: row.share_secret } satisfies SiteAccess) : undefined;
  };
}

export async function listSiteIds(db: Database, limit = 200): Promise<string[]> {
  const rows = await queryRows<{ site_id: string }>(
    db,
    sql`SELECT site_id FROM sites ORDER BY site_id COLLATE "C" LIMIT ${limit}`,
  );
  return rows.map((row) => row.site_id);
}

/** Replaces the site's share secret with a new one (`rotate`) or none (`revoke`); `undefined` for no such site. */
export async function changeShareSecret(
  db: Database,
  siteId: string,
  change: 'rotate' | 'revoke',
): Promise<{ shareSecret: string | null } | undefined> {
  const secret = change === 'rotate' ? newShareSecret() : null;
  const [row] = await queryRows<{ share_secret: string | null }>(
    db,
    sql`UPDATE sites SET share_secret = ${secret} WHERE site_id = ${siteId} RETURNING share_secret`,
  );
  return row ? { shareSecret: row.share_secret } : undefined;
}
