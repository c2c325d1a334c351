import { expect, test } from '@jupyterlab/galata';

import { openPanel, recordAttribute, seenValues } from './helpers';

test('an image save shows progress and ends ACTIVE', async ({ page }) => {
  const panel = await openPanel(page);
  const name = panel.locator('.jp-ModelArts-imageName');
  const submit = panel.locator('.jp-ModelArts-imageSubmit');

  await expect(panel.locator('.jp-ModelArts-warning')).toContainText(
    'cannot be used'
  );
  await name.fill('My-Env');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await expect(submit).toBeDisabled();
  await name.fill('my-env');
  await panel.locator('.jp-ModelArts-imageTag').fill('v1');
  await expect(submit).toBeEnabled();

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
  await submit.click();
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

  // The same name and tag again: the server's error shows next to the tag.
  await name.fill('my-env');
  await panel.locator('.jp-ModelArts-imageTag').fill('v1');
  await submit.click();
  await expect(panel.locator('.jp-ModelArts-imageTag')).toHaveAttribute(
    'aria-invalid',
    'true'
  );
});
