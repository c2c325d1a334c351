import { expect, test } from '@jupyterlab/galata';

import { dialog, openPanel } from './helpers';

test('an IDLE lease: the status bar and the panel say which kind runs and when it would stop', async ({
  page
}) => {
  const panel = await openPanel(page);
  const status = page.locator('.jp-StatusBar-Widget .jp-ModelArts-status');
  const line = panel.locator('.jp-ModelArts-stopAt');

  await expect(panel.locator('.jp-ModelArts-countdown')).toHaveText(
    /^\d+:\d\d:\d\d$/
  );

  // Switch to "stop after 1 hour idle" from the panel's renew dialog.
  await panel.locator('.jp-ModelArts-renew').click();
  await dialog(page).locator('.jp-ModelArts-renewKind').selectOption('IDLE');
  await dialog(page).locator('.jp-ModelArts-renewHours').selectOption('1');
  await dialog(page).locator('.jp-mod-accept').click();
  await expect(dialog(page)).toHaveCount(0);
  await expect(status).toHaveAttribute('data-kind', 'IDLE');
  await expect(status).toHaveText(/^⏻ (idle (1:00:00|0:59:\d\d)|busy)$/);
  await expect(line).toHaveText(
    /^idle stop: after 1 h idle · (idle \d+ min · stops .+ if nothing happens|busy \(.+\): will not stop)$/
  );
  const lease = await (
    await page.request.get('/jupyter-modelarts/lease')
  ).json();
  expect(lease.type).toBe('IDLE');
  expect(lease.duration_s).toBe(3600);

  // Back to a fixed 2 hours for the next tests: the status bar follows the pushed lease.
  await page.request.patch('/jupyter-modelarts/lease', {
    data: { duration_s: 7200, type: 'TIMING' }
  });
  await expect(status).toHaveAttribute('data-kind', 'TIMING');
  await expect(status).toHaveText(/^⏻ (2:00:00|1:59:\d\d)$/);
  await expect(line).toHaveText(/^Auto-stop at /);
});
