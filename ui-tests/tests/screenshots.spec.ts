import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { openPanel } from './helpers';

/**
 * The README's screenshots, written to docs/ only when asked for:
 *
 *   cd ui-tests && MA_SCREENSHOTS=1 jlpm playwright test tests/screenshots.spec.ts
 *
 * so that the test runs of CI never rewrite them.
 */
const DOCS = path.resolve(__dirname, '..', '..', 'docs');

test.skip(
  !process.env.MA_SCREENSHOTS,
  'set MA_SCREENSHOTS=1 to regenerate the screenshots in docs/'
);

const TRAIN_CELL = `%%ma_train --name cell-job
import time
for step in range(120):
    print(f"step {step} loss {1 / (step + 1):.4f}", flush=True)
    time.sleep(0.5)
`;

test('the panel, the status bar, the job view and the job widget', async ({
  page
}) => {
  test.setTimeout(120000);
  const api = (route: string, data: unknown) =>
    page.request.post(`/jupyter-modelarts/${route}`, { data });
  // Some history, a running job, a mount and a saved image.
  await api('jobs', {
    name: 'hello',
    code_dir: 'training',
    boot_file: 'hello.py'
  });
  await api('jobs', { name: 'preprocess', command: 'exit 1' });
  const running = await (
    await api('jobs', {
      name: 'train-resnet50',
      code_dir: 'training',
      boot_file: 'train.py',
      parameters: { lr: '0.01' }
    })
  ).json();
  await api('mounts', {
    uri: 'obs://bucket/datasets/',
    mount_path: '/data/datasets/'
  });
  await api('images', { name: 'my-env', tag: 'v1' });

  await page.setViewportSize({ width: 1280, height: 720 });
  // Notifications would cover the views.
  await page.addStyleTag({
    content: '.Toastify { display: none !important; }'
  });
  const panel = await openPanel(page);
  await page.sidebar.setWidth(300, 'left');
  await expect(
    panel.locator('.jp-ModelArts-image[data-status="ACTIVE"]')
  ).toBeVisible({ timeout: 30000 });
  await expect(
    panel.locator(`.jp-ModelArts-job[data-id="${running.id}"]`)
  ).toHaveAttribute('data-phase', 'Running');
  await panel.screenshot({ path: path.join(DOCS, 'panel-light.png') });
  await page
    .locator('#jp-main-statusbar')
    .screenshot({ path: path.join(DOCS, 'statusbar.png') });

  await page.theme.setDarkTheme();
  await panel.screenshot({ path: path.join(DOCS, 'panel-dark.png') });
  await page.theme.setLightTheme();

  // The job view of the running job, its log well under way.
  await panel.locator(`.jp-ModelArts-job[data-id="${running.id}"]`).click();
  const view = page.locator('.jp-ModelArts-jobView');
  await expect(view).toContainText('step 40 ', { timeout: 20000 });
  await expect(view).not.toContainText('Waiting for samples', {
    timeout: 20000
  });
  await view.screenshot({ path: path.join(DOCS, 'job-view.png') });

  // The job as a cell shows it.
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_modelarts');
  await page.notebook.addCell('code', TRAIN_CELL);
  await page.notebook.run();
  const output = page
    .locator('.jp-Cell')
    .nth(1)
    .locator('.jp-OutputArea-output')
    .last();
  await expect(output).toContainText('step 15', { timeout: 30000 });
  await output.screenshot({ path: path.join(DOCS, 'job-widget.png') });
});
