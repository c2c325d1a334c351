import { expect, test } from '@jupyterlab/galata';

import { seconds } from './helpers';

test('the lease output shows the status bar time and follows renewals', async ({
  page
}) => {
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_modelarts');
  await page.notebook.addCell('code', '%ma_lease');
  await page.notebook.run();

  const output = page.locator('.jp-OutputArea .jp-ModelArts-leaseOutput');
  const remaining = output.locator('.jp-ModelArts-outputRemaining');
  const status = page.locator('.jp-ModelArts-status');
  await expect(remaining).toHaveText(/\d+:\d\d:\d\d/);

  // One countdown: the same time and urgency as the status bar, ticking together.
  const both = async () =>
    page.evaluate(() => {
      const text = (selector: string) =>
        document.querySelector(selector)!.textContent!;
      return [
        text('.jp-OutputArea .jp-ModelArts-outputRemaining'),
        text('.jp-ModelArts-status')
      ];
    });
  // Read together; a poll, as a tick may fall between the two reads.
  await expect
    .poll(async () => {
      const [inCell, inBar] = await both();
      return inCell === inBar;
    })
    .toBe(true);
  const [ours] = await both();
  await expect(output).toHaveAttribute(
    'data-level',
    (await status.getAttribute('data-level'))!
  );
  await expect(remaining).not.toHaveText(ours, { timeout: 3000 });

  // Renewed from the output.
  await output.locator('select').selectOption('4');
  await output.getByRole('button', { name: 'Renew' }).click();
  await expect(remaining).toHaveText(/ 3:59:\d\d$/);

  // Renewed from another cell: pushed to the output and the status bar.
  await page.notebook.addCell('code', '%ma_lease renew 8h');
  await page.notebook.runCell(2);
  await expect(remaining).toHaveText(/ 7:59:\d\d$/, { timeout: 5000 });
  await expect
    .poll(async () => seconds((await status.textContent())!))
    .toBeGreaterThan(7 * 3600 + 58 * 60);
});

test('the image output follows a save to ACTIVE', async ({ page }) => {
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_modelarts');
  await page.notebook.addCell('code', '%ma_image save ui-output:v1');
  await page.notebook.run();

  const output = page.locator('.jp-OutputArea .jp-ModelArts-imageOutput');
  await expect(output.locator('.jp-ModelArts-outputName')).toContainText(
    'ui-output:v1'
  );
  await expect(output.locator('.jp-ModelArts-badge')).toHaveText('ACTIVE', {
    timeout: 60000
  });
});
