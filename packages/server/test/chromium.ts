/**
 * Chromium for the browser tests: Debian's (`/usr/bin/chromium`, or `CHROMIUM_PATH`), driven by
 * playwright-core; nothing is downloaded. `visitor` launches it as a site's visitor would browse:
 * a desktop User-Agent (headless Chromium's own is dropped as a bot), no automation flag
 * (`navigator.webdriver` false, which the tracker would skip), and `shop.example` resolving to
 * this machine, so pages are not on `localhost` (which the tracker skips too).
 */
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
];
export const DESKTOP_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

export function launchChromium({ visitor = false }: { visitor?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    ...(visitor
      ? {
          ignoreDefaultArgs: ['--enable-automation'],
          args: [
            ...CHROMIUM_ARGS,
            '--disable-blink-features=AutomationControlled',
            `--user-agent=${DESKTOP_UA}`,
            '--host-resolver-rules=MAP shop.example 127.0.0.1',
          ],
        }
      : { args: CHROMIUM_ARGS }),
  });
}
