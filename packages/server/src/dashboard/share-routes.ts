/**
 * A site's share link (SPEC §13): `POST /api/sites/:siteId/share` makes a new
 * secret (the old link stops working at once), `DELETE` drops it (no link
 * works). Both take `ADMIN_API_KEY`, as every change to a site does.
 */
import { formatIssues, type SiteShare, siteIdSchema } from '@tally/shared';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { Database } from '../db/client.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { changeShareSecret } from './sites.js';

export function shareRoutes({ db, adminAuth }: { db: Database; adminAuth: MiddlewareHandler }) {
  const change = async (c: Context, how: 'rotate' | 'revoke') => {
    const parsed = siteIdSchema.safeParse(c.req.param('siteId'));
    if (!parsed.success) throw new ValidationError(formatIssues(parsed.error.issues));
    const siteId = parsed.data;
    const changed = await changeShareSecret(db, siteId, how);
    if (!changed) throw new NotFoundError(`No site ${siteId}`);
    const base = c.req.path.slice(0, c.req.path.lastIndexOf('/api/sites/'));
    const shareUrl = changed.shareSecret
      ? `${base}/dashboard/${encodeURIComponent(siteId)}?share=${changed.shareSecret}`
      : null;
    return c.json<SiteShare>({ siteId, shareSecret: changed.shareSecret, shareUrl });
  };
  return new Hono()
    .post('/:siteId/share', adminAuth, (c) => change(c, 'rotate'))
    .delete('/:siteId/share', adminAuth, (c) => change(c, 'revoke'));
}
