import { expect, test } from '@jupyterlab/galata';
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

/**
 * This spec runs its own server (jupyter_server_autostop_config.py, port 8889) whose lease is
 * only 90 s long, so that the save of open documents one minute before auto-stop happens
 * while the test runs. The server is started here, not by Playwright's webServer, so that
 * its short lease starts when this test does.
 */
const PORT = 8889;
const BASE = `http://127.0.0.1:${PORT}`;
let server: ChildProcess | null = null;

test.use({ baseURL: BASE });

test.beforeAll(async () => {
  server = spawn(
    'jupyter',
    ['lab', '--config', 'jupyter_server_autostop_config.py'],
    {
      cwd: path.resolve(__dirname, '..'),
      stdio: 'ignore',
      detached: true
    }
  );
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      const response = await fetch(`${BASE}/jupyter-modelarts/lease`);
      if (response.ok) {
        break;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error('the auto-stop test server did not start');
    }
    await new Promise(resolve => setTimeout(resolve, 250));
  }
});

test.afterAll(() => {
  if (server?.pid) {
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // Already stopped by its own auto-stop.
    }
  }
});

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
