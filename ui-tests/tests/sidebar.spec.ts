import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { openPanel, seconds } from './helpers';

const DOCS = path.resolve(__dirname, '..', '..', 'docs');

test('the ModelArts sidebar shows the local instance', async ({ page }) => {
  const panel = await openPanel(page);

  const instance = panel.locator('.jp-ModelArts-instance');
  await expect(instance).toContainText('local');
  await expect(instance).toContainText('RUNNING');
  await expect(instance).toContainText('This machine');
  // The lease of the test server: 2 hours, counting down.
  await expect(panel.locator('.jp-ModelArts-countdown')).toHaveText(
    /^1:5\d:\d\d$/
  );
  await expect(
    page.locator('.jp-StatusBar-Widget .jp-ModelArts-status')
  ).toHaveText(/^⏻ 1:5\d:\d\d$/);
});

test('renew changes the countdown in the panel and the status bar', async ({
  page
}) => {
  const panel = await openPanel(page);
  const clock = panel.locator('.jp-ModelArts-countdown');
  const status = page.locator('.jp-StatusBar-Widget .jp-ModelArts-status');
  await expect(clock).toHaveText(/^\d+:\d\d:\d\d$/);

  // Renew for 4 hours from the panel.
  await panel.locator('.jp-ModelArts-renewHours').selectOption('4');
  await panel.locator('.jp-ModelArts-renew').click();
  await expect(clock).toHaveText(/^(4:00:00|3:59:\d\d)$/);
  await expect(status).toHaveText(/^⏻ (4:00:00|3:59:\d\d)$/);
  const before = seconds((await status.textContent())!);

  // It ticks locally.
  await expect
    .poll(async () => seconds((await status.textContent())!), {
      timeout: 5000
    })
    .toBeLessThan(before);

  // Renew for 8 hours from the status-bar menu, with the keyboard.
  await status.focus();
  await page.keyboard.press('Enter');
  const menu = page.locator('.jp-ModelArts-renewMenu');
  await expect(menu).toBeVisible();
  await menu.getByText('Renew Auto-stop for 8 Hours').click();
  await expect(status).toHaveText(/^⏻ (8:00:00|7:59:\d\d)$/);
  await expect(clock).toHaveText(/^(8:00:00|7:59:\d\d)$/);

  // The server agrees.
  const lease = await (
    await page.request.get('/jupyter-modelarts/lease')
  ).json();
  expect(lease.remaining_s).toBeGreaterThan(7.9 * 3600);

  // Renew for 1 hour from the command palette, then back to 2 hours for the next tests.
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('jupyter-modelarts:renew', {
      hours: 1
    })
  );
  await expect(status).toHaveText(/^⏻ (1:00:00|0:59:\d\d)$/);
  await page.request.patch('/jupyter-modelarts/lease', {
    data: { duration_s: 7200 }
  });
});

test('screenshots of the panel and the status bar', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 1500 });
  const panel = await openPanel(page);
  await page.sidebar.setWidth(380, 'left');
  await expect(panel.locator('.jp-ModelArts-countdown')).toHaveText(
    /^\d+:\d\d:\d\d$/
  );
  await panel.locator('.jp-ModelArts-mountUri').fill('obs://bucket/datasets/');
  await page.waitForTimeout(300);
  await panel.screenshot({ path: path.join(DOCS, 'panel-light.png') });
  await page
    .locator('#jp-main-statusbar')
    .screenshot({ path: path.join(DOCS, 'statusbar.png') });

  await page.theme.setDarkTheme();
  await panel.locator('.jp-ModelArts-mountUri').fill('obs://bucket/datasets/');
  await page.waitForTimeout(300);
  await panel.screenshot({ path: path.join(DOCS, 'panel-dark.png') });
  await page.theme.setLightTheme();
});
