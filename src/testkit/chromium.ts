// Debian's Chromium for the browser tests (playwright-core drives it; nothing is downloaded).
// Missing: a test file fails under CI (CI=true, where .ci/run installs it) and skips elsewhere.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env['LEASEKV_CHROMIUM'] ?? '/usr/bin/chromium';

/** Launching Chromium on a loaded 2-core machine. */
export const LAUNCH_TIMEOUT_MS = 60_000;

/**
 * false when Chromium is there; a skip reason when it is not and this is not CI. Under CI a
 * missing Chromium throws (at import of the test file, so the whole file fails, loudly).
 */
export function chromiumSkip(what: string): false | string {
  if (existsSync(CHROMIUM)) return false;
  const ci = process.env['CI'];
  if (ci !== undefined && ci !== '' && ci !== 'false')
    throw new Error(`chromium not found at ${CHROMIUM}: ${what} cannot run (apt-get install chromium)`);
  return `chromium not found at ${CHROMIUM} (apt-get install chromium); skipping ${what} outside CI`;
}

/** Headless Chromium with a fresh profile; `close()` also removes the profile. */
export async function launchChromium(
  extraArgs: readonly string[],
  viewport?: { width: number; height: number },
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profileDir = mkdtempSync(join(tmpdir(), 'leasekv-chromium-'));
  const remove = (): void => rmSync(profileDir, { recursive: true, force: true });
  try {
    const context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        ...extraArgs,
      ],
      ...(viewport === undefined ? {} : { viewport }),
      timeout: LAUNCH_TIMEOUT_MS,
    });
    return {
      context,
      close: async () => {
        await context.close().catch(() => {});
        remove();
      },
    };
  } catch (err) {
    remove();
    throw err;
  }
}
