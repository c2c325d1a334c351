import { expect, test } from '@jupyterlab/galata';

/**
 * A job's cell output: drawn by the extension from the shared model (not by the kernel's
 * widget), live from pushed events.
 */
const JOB_OUTPUT = '.jp-OutputArea .jp-ModelArts-jobOutput';

test('the job output follows a %%ma_train job to Completed', async ({
  page
}) => {
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_modelarts');
  await page.notebook.addCell(
    'code',
    `%%ma_train --name ui-job-done
import time
for step in range(30):
    print(f"step {step}", flush=True)
    time.sleep(0.1)
`
  );
  await page.notebook.run();

  const output = page.locator(JOB_OUTPUT);
  await expect(output).toHaveCount(1);
  await expect(output.locator('.jp-ModelArts-outputName')).toHaveText(
    'ui-job-done'
  );
  const phase = output.locator('.jp-ModelArts-badge');
  await expect(phase).toHaveText('Completed', { timeout: 30000 });
  // The last lines of the log, read once more at the end.
  await expect(output.locator('.jp-ModelArts-outputLog')).toContainText(
    'step 29'
  );
  await expect(
    output.getByRole('button', { name: 'Stop the job' })
  ).toBeDisabled();
  // The kernel's text rendering is in the notebook for other frontends, not on screen.
  await expect(
    page.locator('.jp-OutputArea').filter({ hasText: 'JobWidget(' })
  ).toHaveCount(0);
});

test('the job output stops its job and opens the job view', async ({
  page
}) => {
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_modelarts');
  await page.notebook.addCell(
    'code',
    `%%ma_train --name ui-job-stop
import time
for step in range(600):
    print(f"step {step}", flush=True)
    time.sleep(0.1)
`
  );
  await page.notebook.run();

  const output = page.locator(JOB_OUTPUT);
  const phase = output.locator('.jp-ModelArts-badge');
  await expect(phase).toHaveText('Running', { timeout: 30000 });
  // The log grows: pushed log events bring new lines.
  await expect(output.locator('.jp-ModelArts-outputLog')).toContainText(
    /step [1-9]\d/,
    { timeout: 20000 }
  );

  await output.getByRole('button', { name: 'Stop the job' }).click();
  await expect(phase).toHaveText('Terminated', { timeout: 30000 });
  await expect(
    output.getByRole('button', { name: 'Stop the job' })
  ).toBeDisabled();

  await output.getByRole('button', { name: 'Open the job view' }).click();
  await expect(
    page.locator('.lm-TabBar-tab').filter({ hasText: 'ui-job-stop' })
  ).toBeVisible();
});
