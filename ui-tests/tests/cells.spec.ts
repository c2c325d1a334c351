import { expect, test } from '@jupyterlab/galata';

const FAILING = `%%ma_train --follow --name doomed
print('about to fail', flush=True)
raise SystemExit(4)`;

test('cells behave like cells: a failing job stops Run All, errors are one line', async ({
  page
}) => {
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_modelarts');
  await page.notebook.addCell('code', FAILING);
  await page.notebook.addCell('code', "print('ran after the failure')");
  // Not notebook.run(): it waits for every cell to run, and the last one must not.
  await page.menu.clickMenuItem('Run>Run All Cells');
  await page.notebook.waitForRun(1);

  const failing = (await page.notebook.getCellLocator(1))!;
  await expect(failing.locator('.jp-OutputArea')).toContainText(
    'about to fail'
  );
  const error = failing
    .locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    .last();
  await expect(error).toHaveText(
    /^JobFailed: job \S+ \(doomed\) ended Failed(: .*)?; its log: %ma_train logs \S+$/
  );
  const after = (await page.notebook.getCellLocator(2))!;
  await expect(after.locator('.jp-InputPrompt')).toHaveText('[ ]:');
  await expect(after.locator('.jp-OutputArea-output')).toHaveCount(0);

  // A wrong option: the one line that says what is wrong, no usage block.
  await page.notebook.setCell(2, 'code', '%%ma_train --nodes x\nprint(1)');
  await page.notebook.runCell(2);
  await expect(after.locator('.jp-OutputArea-output')).toHaveText(
    "UsageError: %%ma_train: argument --nodes: invalid int value: 'x' (see %%ma_train -h)"
  );
});
