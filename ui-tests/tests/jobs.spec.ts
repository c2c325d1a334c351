import { expect, test } from '@jupyterlab/galata';

import { openPanel } from './helpers';

test('a job submitted from the form streams logs and can be stopped', async ({
  page
}) => {
  // The script comes from the file browser's selection.
  await page.sidebar.openTab('filebrowser');
  await page.filebrowser.openDirectory('training');
  await page.locator('.jp-DirListing-item', { hasText: 'train.py' }).click();

  const panel = await openPanel(page);
  const jobs = panel.locator('.jp-ModelArts-section-jobs');
  await jobs.locator('summary', { hasText: 'Submit a job' }).click();
  await jobs.locator('.jp-ModelArts-fromBrowser').click();
  await expect(jobs.locator('.jp-ModelArts-jobScript')).toHaveValue(
    'training/train.py'
  );
  await expect(jobs.locator('.jp-ModelArts-jobName')).toHaveValue(/^train-/);
  await expect(jobs.locator('.jp-ModelArts-jobFlavor')).toHaveValue(
    'local.cpu'
  );
  await expect(jobs.locator('.jp-ModelArts-jobEngine')).toHaveValue('python3');
  await jobs.locator('.jp-ModelArts-jobParameters').fill('lr 0.1');
  await expect(jobs.locator('.jp-ModelArts-jobParameters')).toHaveAttribute(
    'aria-invalid',
    'true'
  );
  await jobs.locator('.jp-ModelArts-jobParameters').fill('lr=0.1');
  await jobs.locator('.jp-ModelArts-jobSubmit').click();

  // The job view opens and streams the log.
  const view = page.locator('.jp-ModelArts-jobView');
  await expect(view).toBeVisible();
  const log = view.locator('.jp-ModelArts-log');
  await expect(log).toContainText("args ['--lr=0.1']");
  await expect(log).toContainText('step 10 ');
  await expect(view.locator('.jp-ModelArts-jobPhase')).toHaveText('Running');

  // Pause stops following; Follow resumes and catches up.
  await view.locator('.jp-ModelArts-follow').click();
  await expect(view.locator('.jp-ModelArts-follow')).toHaveText('Follow');
  await view.locator('.jp-ModelArts-follow').click();
  await expect(log).toContainText('step 20 ');

  // The list shows it running.
  const row = jobs.locator('.jp-ModelArts-job').first();
  await expect(row).toHaveAttribute('data-phase', 'Running');

  await view.locator('.jp-ModelArts-stop').click();
  await expect(view.locator('.jp-ModelArts-jobPhase')).toHaveText(
    'Terminated',
    {
      timeout: 20000
    }
  );
  await expect(row).toHaveAttribute('data-phase', 'Terminated');
  await expect(
    page.locator('.Toastify__toast', { hasText: /Job train-\S+: Terminated/ })
  ).toBeVisible();

  // Filter by phase.
  await jobs.locator('.jp-ModelArts-phaseFilter').selectOption('Completed');
  await expect(
    jobs.locator('.jp-ModelArts-job[data-phase="Terminated"]')
  ).toHaveCount(0);
  await jobs.locator('.jp-ModelArts-phaseFilter').selectOption('');
});

test('a notification appears when a job completes', async ({ page }) => {
  const panel = await openPanel(page);
  const jobs = panel.locator('.jp-ModelArts-section-jobs');
  await jobs.locator('summary', { hasText: 'Submit a job' }).click();
  await jobs.locator('.jp-ModelArts-jobScript').fill('training/hello.py');
  await jobs.locator('.jp-ModelArts-jobName').fill('hello-job');
  await jobs.locator('.jp-ModelArts-jobSubmit').click();

  const toast = page.locator('.Toastify__toast', {
    hasText: 'Job hello-job: Completed'
  });
  await expect(toast).toBeVisible({ timeout: 15000 });
  await expect(
    page.locator('.jp-ModelArts-jobView .jp-ModelArts-log')
  ).toContainText('hello from a job');
  await expect(
    jobs.locator('.jp-ModelArts-job', { hasText: 'hello-job' }).first()
  ).toHaveAttribute('data-phase', 'Completed');
});
