import { expect, test } from '@jupyterlab/galata';

import { dialog, openPanel, recordAttribute, seenValues } from './helpers';

test('an image saved from the dialog shows progress and ends ACTIVE', async ({
  page
}) => {
  const panel = await openPanel(page);
  await panel.locator('.jp-ModelArts-saveImage').click();
  const form = dialog(page);
  const name = form.locator('.jp-ModelArts-imageName');
  const tag = form.locator('.jp-ModelArts-imageTag');
  const accept = form.locator('.jp-Dialog-button.jp-mod-accept');

  await expect(form.locator('.jp-ModelArts-warning')).toContainText(
    'cannot be used'
  );
  await name.fill('My-Env');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await expect(accept).toBeDisabled();
  await name.fill('my-env');
  await tag.fill('v1');
  await expect(accept).toBeEnabled();

  const ref = 'local/my-env:v1';
  await recordAttribute(
    page,
    'imageStates',
    `.jp-ModelArts-image[data-ref="${ref}"]`,
    'data-status'
  );
  await recordAttribute(
    page,
    'imageProgress',
    `.jp-ModelArts-image[data-ref="${ref}"] progress`,
    'max'
  );
  await accept.click();
  await expect(form).toHaveCount(0);
  const row = panel.locator(`.jp-ModelArts-image[data-ref="${ref}"]`);
  await expect(row).toHaveAttribute('data-status', 'ACTIVE', {
    timeout: 30000
  });
  const states = await seenValues(page, 'imageStates');
  expect(states[0]).toBe('INIT');
  expect(states[states.length - 1]).toBe('ACTIVE');
  expect((await seenValues(page, 'imageProgress')).length).toBeGreaterThan(0);
  await expect(
    page.locator('.Toastify__toast', { hasText: `Image ${ref} saved` })
  ).toBeVisible();

  // The same name and tag again: the server's refusal shows next to the tag, and the
  // dialog stays open until the tag changes or it is cancelled.
  await panel.locator('.jp-ModelArts-saveImage').click();
  await name.fill('my-env');
  await tag.fill('v1');
  await accept.click();
  await expect(tag).toHaveAttribute('aria-invalid', 'true');
  await expect(form).toBeVisible();
  await tag.fill('v2');
  await expect(tag).not.toHaveAttribute('aria-invalid', 'true');
  await form.locator('.jp-mod-reject').click();
  await expect(form).toHaveCount(0);
});
