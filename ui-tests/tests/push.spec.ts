import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Page, Request } from '@playwright/test';

import { seconds } from './helpers';

const API = '/jupyter-modelarts/';

/**
 * Record the requests a page makes to the extension's API from now on.
 */
function recordRequests(page: Page): Request[] {
  const seen: Request[] = [];
  page.on('request', request => {
    if (new URL(request.url()).pathname.includes(API)) {
      seen.push(request);
    }
  });
  return seen;
}

/**
 * Open a second JupyterLab tab of the same server.
 */
async function openSecondTab(page: IJupyterLabPageFixture): Promise<Page> {
  const other = await page.context().newPage();
  await other.goto(page.url());
  await expect(other.locator('.jp-ModelArts-status')).toContainText(
    /\d+:\d\d:\d\d/,
    { timeout: 30000 }
  );
  return other;
}

async function openPanel(page: Page) {
  const panel = page.locator('#jupyter-modelarts-sidebar');
  if (!(await panel.isVisible())) {
    await page
      .locator(
        '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-modelarts-sidebar"]'
      )
      .click();
  }
  await expect(panel).toBeVisible();
  return panel;
}

test('changes reach every tab pushed, and idle tabs make no requests', async ({
  page
}) => {
  await expect(page.locator('.jp-ModelArts-status')).toContainText(
    /\d+:\d\d:\d\d/
  );
  const other = await openSecondTab(page);
  const panels = [await openPanel(page), await openPanel(other)];
  const requests = [recordRequests(page), recordRequests(other)];

  // A renewal through the REST API (as a kernel or another client would make it).
  const hours = 5 + Math.floor(Math.random() * 40);
  const renewed = await page.request.patch(`${API}lease`, {
    data: { duration_s: hours * 3600 }
  });
  expect(renewed.ok()).toBe(true);
  for (const tab of [page, other]) {
    await expect
      .poll(
        async () =>
          seconds((await tab.locator('.jp-ModelArts-status').textContent())!),
        { timeout: 5000 }
      )
      .toBeGreaterThan(hours * 3600 - 60);
  }

  // A job submitted through the REST API shows in both panels, and its end too.
  const name = `push-${Date.now()}`;
  const submitted = await page.request.post(`${API}jobs`, {
    data: { name, code: 'print("pushed")' }
  });
  expect(submitted.status()).toBe(201);
  for (const panel of panels) {
    await expect(panel.getByText(name)).toBeVisible({ timeout: 10000 });
  }

  // None of it was polled: the tabs asked for no lists, no lease.
  const polled = (seen: Request[]) =>
    seen.filter(r =>
      /\/jupyter-modelarts\/(lease|mounts|images|jobs)(\?|$)/.test(r.url())
    ).length;
  expect(polled(requests[0])).toBe(0);
  expect(polled(requests[1])).toBe(0);

  // Idle: at most one request per tab in 20 s.
  const before = requests.map(seen => seen.length);
  await page.waitForTimeout(20000);
  expect(requests[0].length - before[0]).toBeLessThanOrEqual(1);
  expect(requests[1].length - before[1]).toBeLessThanOrEqual(1);
  await other.close();
});

test('a failing endpoint degrades only its own part', async ({ page }) => {
  await page.route('**/jupyter-modelarts/mounts*', route =>
    route.fulfill({
      status: 403,
      contentType: 'application/json',
      body: JSON.stringify({
        message: 'mounts are forbidden here',
        reason: 'Forbidden',
        code: 'ModelArts.0403'
      })
    })
  );
  await page.reload();
  const name = `degraded-${Date.now()}`;
  const submitted = await page.request.post(`${API}jobs`, {
    data: { name, code: 'print("still listed")' }
  });
  expect(submitted.status()).toBe(201);

  const status = page.locator('.jp-ModelArts-status');
  await expect(status).toContainText(/\d+:\d\d:\d\d/);
  const panel = await openPanel(page);
  await expect(panel.getByText('mounts are forbidden here')).toBeVisible();
  await expect(panel.getByText(name)).toBeVisible({ timeout: 10000 });
  // The countdown still ticks.
  const first = await status.textContent();
  await expect(status).not.toHaveText(first!, { timeout: 3000 });
});
