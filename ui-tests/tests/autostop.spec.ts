import { expect, test } from '@jupyterlab/galata';

import { TestServer } from './helpers';

/**
 * This spec runs its own server (jupyter_server_autostop_config.py, port 8961) whose lease is
 * only 90 s long, so that the save of open documents one minute before auto-stop happens
 * while the test runs. The server is started here, not by Playwright's webServer, so that
 * its short lease starts when this test does.
 */
const server = new TestServer('jupyter_server_autostop_config.py', 8961);

test.use({ baseURL: server.url });

test.beforeAll(() => server.start());

test.afterAll(() => server.stop());

test('an edited notebook is saved a minute before auto-stop', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(90000);
  const lease = await (
    await page.request.get('/jupyter-modelarts/lease')
  ).json();
  expect(lease.enabled).toBe(true);
  expect(lease.remaining_s).toBeGreaterThan(62);

  const name = 'autosave.ipynb';
  await page.notebook.createNew(name);
  await page.notebook.setCell(0, 'code', 'print("typed but never saved")');
  await expect(page.locator('.jp-mod-dirty')).not.toHaveCount(0);
  const contentsUrl = `/api/contents/${tmpPath}/${name}?content=1`;
  const onDisk = async () =>
    JSON.stringify(
      (await (await page.request.get(contentsUrl)).json()).content
    );
  expect(await onDisk()).not.toContain('typed but never saved');

  // Under a minute left: the countdown is red and the notebook gets saved.
  const status = page.locator('.jp-StatusBar-Widget .jp-ModelArts-status');
  await expect(status).toHaveAttribute('data-level', 'critical', {
    timeout: 60000
  });
  await expect
    .poll(onDisk, { timeout: 10000 })
    .toContain('typed but never saved');
  await expect(
    page.locator('.Toastify__toast', {
      hasText: `Saved 1 document: ${tmpPath}/${name}`
    })
  ).toBeVisible();
  await expect(page.locator('.jp-mod-dirty')).toHaveCount(0);
});
