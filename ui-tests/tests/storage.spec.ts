import { expect, test } from '@jupyterlab/galata';

import { openPanel, recordAttribute, seenValues } from './helpers';

test('a mount goes MOUNTING → MOUNTED, shows in the file browser, then unmounts', async ({
  page
}) => {
  const panel = await openPanel(page);
  const uri = panel.locator('.jp-ModelArts-mountUri');
  const mountPath = panel.locator('.jp-ModelArts-mountPath');
  const submit = panel.locator('.jp-ModelArts-mountSubmit');

  // Validated as you type.
  await uri.fill('obs://bucket');
  await expect(uri).toHaveAttribute('aria-invalid', 'true');
  await expect(submit).toBeDisabled();
  await uri.fill('obs://bucket/datasets/');
  await expect(uri).not.toHaveAttribute('aria-invalid', 'true');
  await expect(mountPath).toHaveValue('/data/datasets/');
  await mountPath.fill('/data/../x/');
  await expect(mountPath).toHaveAttribute('aria-invalid', 'true');
  await mountPath.fill('/data/ds/');
  await expect(submit).toBeEnabled();

  await recordAttribute(
    page,
    'mountStates',
    '.jp-ModelArts-mount[data-path="/data/ds/"]',
    'data-status'
  );
  await submit.click();
  const row = panel.locator('.jp-ModelArts-mount[data-path="/data/ds/"]');
  await expect(row).toHaveAttribute('data-status', 'MOUNTED');
  expect(await seenValues(page, 'mountStates')).toEqual([
    'MOUNTING',
    'MOUNTED'
  ]);

  // The data root is inside the server root: the bucket's files show in the file browser.
  await page.sidebar.openTab('filebrowser');
  await page.filebrowser.openDirectory('data/ds');
  await expect(
    page.locator('.jp-DirListing-item', { hasText: 'train.csv' })
  ).toBeVisible();

  // A second mount on the same path is refused, next to the field.
  await openPanel(page);
  await uri.fill('obs://bucket/datasets/');
  await mountPath.fill('/data/ds/');
  await submit.click();
  await expect(
    panel.locator('.jp-ModelArts-mountPath + .jp-ModelArts-fieldMessage')
  ).toContainText('/data/ds/');
  await expect(mountPath).toHaveAttribute('aria-invalid', 'true');

  // Unmount, with confirmation.
  await row.locator('.jp-ModelArts-unmount').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Unmount /data/ds/?');
  await dialog.locator('.jp-mod-warn').click();
  await expect(row).toHaveCount(0);
  await page.sidebar.openTab('filebrowser');
  await page.filebrowser.openDirectory('data');
  await expect(
    page.locator('.jp-DirListing-item', { hasText: /^ds$/ })
  ).toHaveCount(0);
});
