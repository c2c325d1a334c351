import { expect, test } from '@jupyterlab/galata';

const TRAIN_CELL = `%%ma_train --name ui-job
import time
for step in range(120):
    print(f"step {step}", flush=True)
    time.sleep(0.5)
`;

test('the job widget follows a %%ma_train job and stops it', async ({
  page
}) => {
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_modelarts');
  await page.notebook.addCell('code', TRAIN_CELL);
  await page.notebook.run();

  const widget = page.locator('.jp-OutputArea .jp-ModelArts-jobWidget');
  const phase = widget.locator('.jp-ModelArts-jobPhase');
  await expect(phase).toHaveText('Running', { timeout: 30000 });
  await expect(widget.locator('.jp-ModelArts-jobLog').first()).toContainText(
    'step 15',
    {
      timeout: 20000
    }
  );
  await expect(widget.locator('.jp-ModelArts-jobChart').first()).toBeVisible({
    timeout: 20000
  });
  await widget.screenshot({ path: '../docs/job-widget.png' });

  await widget.getByRole('button', { name: 'Stop' }).click();
  await expect(phase).toHaveText('Terminated', { timeout: 30000 });
  await expect(widget.getByRole('button', { name: 'Stop' })).toBeDisabled();
});

test('the lease countdown ticks in the browser and picks up renewals', async ({
  page
}) => {
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_modelarts');
  await page.notebook.addCell('code', '%ma_lease');
  await page.notebook.run();

  const countdown = page.locator('.jp-OutputArea .jp-ModelArts-leaseCountdown');
  const remaining = countdown.locator('.jp-ModelArts-leaseCountdown-remaining');
  await expect(remaining).toHaveText(/^Stops in \d+:\d\d:\d\d$/);
  const before = await remaining.textContent();
  await expect(remaining).not.toHaveText(before!, { timeout: 3000 });

  // Renewed from the widget: PATCH from the browser.
  await countdown.locator('select').selectOption('4');
  await countdown.getByRole('button', { name: 'Renew' }).click();
  await expect(remaining).toHaveText(/^Stops in 3:59:\d\d$/);

  // Renewed elsewhere (another cell): the view's own polling shows it within 5 s.
  await page.notebook.addCell('code', '%ma_lease renew 8h');
  await page.notebook.runCell(2);
  await expect(remaining).toHaveText(/^Stops in 7:59:\d\d$/, { timeout: 6000 });
});
