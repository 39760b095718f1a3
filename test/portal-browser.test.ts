/**
 * SPEC §9: the developer portal works in a real browser with the network cut off. Headless
 * Chromium (the system's, `apt-get install -y chromium`) with a fresh profile loads `/docs`,
 * every request to anything but the test server is aborted and recorded, and the test checks
 * that the reference rendered with its local stylesheet and script, that no request left the
 * server, and keeps a screenshot in test-results/ (ignored by git).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { startServer, type TestServer } from './helpers.js';

const CHROMIUM = process.env.CARTE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const root = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOTS = path.join(root, 'test-results');

describe('developer portal in headless Chromium, network cut off', () => {
  let t: TestServer | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  const elsewhere: string[] = [];
  const served: string[] = [];

  before(async () => {
    // Without the browser the test below fails (it is not skipped): nothing to prepare then.
    if (!existsSync(CHROMIUM)) return;
    t = await startServer();
    profile = mkdtempSync(path.join(tmpdir(), 'carte-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
    });
    const origin = new URL(t.url).origin;
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) {
        served.push(url);
        await route.continue();
      } else {
        elsewhere.push(url);
        await route.abort('internetdisconnected');
      }
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await t?.close();
  });

  it('renders the reference from local files only, with working copy buttons', { timeout: 120_000 }, async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is required at ${CHROMIUM} for this test: apt-get install -y chromium (or set CARTE_TEST_CHROMIUM)`);
    assert.ok(t && context);
    const { url } = t;
    const page = await context.newPage();
    const response = await page.goto(`${url}/docs`, { waitUntil: 'load' });
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'Fake Company — API reference');
    assert.match((await page.textContent('h1')) ?? '', /Fake Company/);
    // Resources and operations in separate sections, every operation rendered.
    assert.equal(await page.locator('#group-resources h3').first().textContent(), 'restaurants');
    assert.ok(await page.locator('#group-operations #op-calculatorSum').isVisible());
    assert.ok((await page.locator('section.operation').count()) > 80);
    // The local stylesheet applied (a GET badge is green), the local script ran (copy works).
    // (Browser code as text: the test is compiled without the DOM types.)
    const badge: unknown = await page.evaluate(`getComputedStyle(document.querySelector('#op-listRestaurants .method.get')).backgroundColor`);
    assert.equal(badge, 'rgb(29, 122, 70)');
    await page.locator('#op-createRestaurant button.copy').click();
    await page.locator('#op-createRestaurant button.copy', { hasText: 'Copied' }).waitFor({ timeout: 10_000 });
    const copied = String(await page.evaluate('navigator.clipboard.readText()'));
    assert.match(copied, /^curl -i -X POST \\\n {2}-H "Authorization: Bearer \$TOKEN"/);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, 'portal-reference.png');
    await page.screenshot({ path: file });
    assert.ok(statSync(file).size > 10_000);

    await page.goto(`${url}/docs/getting-started`, { waitUntil: 'load' });
    assert.match((await page.textContent('h1')) ?? '', /Getting started/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'portal-getting-started.png') });
    await page.goto(`${url}/docs/errors#not_found`, { waitUntil: 'load' });
    assert.ok(await page.locator('#not_found').isVisible());

    assert.deepEqual(elsewhere, [], 'no request left the test server');
    assert.ok(served.some((u) => u.endsWith('/docs/assets/portal.css')) && served.some((u) => u.endsWith('/docs/assets/portal.js')));
  });
});
