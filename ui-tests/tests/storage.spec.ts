import { expect, test } from '@jupyterlab/galata';

import { dialog, openPanel, recordAttribute, seenValues } from './helpers';

test('a mount from the dialog goes MOUNTING → MOUNTED, shows in the file browser, then unmounts', async ({
  page
}) => {
  const panel = await openPanel(page);
  await panel.locator('.jp-ModelArts-addMount').click();
  const form = dialog(page);
  const uri = form.locator('.jp-ModelArts-mountUri');
  const mountPath = form.locator('.jp-ModelArts-mountPath');
  const accept = form.locator('.jp-Dialog-button.jp-mod-accept');

  // Checked as you type.
  await expect(uri).toBeFocused();
  await uri.fill('obs://bucket');
  await expect(uri).toHaveAttribute('aria-invalid', 'true');
  await expect(accept).toBeDisabled();
  await uri.fill('obs://bucket/datasets/');
  await expect(uri).not.toHaveAttribute('aria-invalid', 'true');
  await expect(mountPath).toHaveValue('/data/datasets/');
  await mountPath.fill('/data/../x/');
  await expect(mountPath).toHaveAttribute('aria-invalid', 'true');
  await mountPath.fill('/data/ds/');
  await expect(accept).toBeEnabled();

  await recordAttribute(
    page,
    'mountStates',
    '.jp-ModelArts-mount[data-path="/data/ds/"]',
    'data-status'
  );
  await mountPath.press('Enter');
  await expect(form).toHaveCount(0);
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

  // A second mount on the same path is refused next to the field; the dialog stays open.
  await openPanel(page);
  await panel.locator('.jp-ModelArts-addMount').click();
  await uri.fill('obs://bucket/datasets/');
  await mountPath.fill('/data/ds/');
  await accept.click();
  await expect(
    form.locator('.jp-ModelArts-mountPath + .jp-ModelArts-fieldMessage')
  ).toContainText('/data/ds/');
  await expect(mountPath).toHaveAttribute('aria-invalid', 'true');
  await form.locator('.jp-mod-reject').click();
  await expect(form).toHaveCount(0);

  // Unmount, with confirmation.
  await row.locator('.jp-ModelArts-unmount').click();
  const confirm = page.locator('.jp-Dialog');
  await expect(confirm).toContainText('Unmount /data/ds/?');
  await confirm.locator('.jp-mod-warn').click();
  await expect(row).toHaveCount(0);
  await page.sidebar.openTab('filebrowser');
  await page.filebrowser.openDirectory('data');
  await expect(
    page.locator('.jp-DirListing-item', { hasText: /^ds$/ })
  ).toHaveCount(0);
});
