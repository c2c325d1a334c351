import { expect, test } from '@jupyterlab/galata';

/**
 * The top and bottom of the text of an element (its glyphs' line box, not the item's).
 */
async function textBox(
  page: import('@playwright/test').Page,
  selector: string
): Promise<{ top: number; bottom: number }> {
  return page.evaluate(selector => {
    const element = document.querySelector(selector)!;
    const range = document.createRange();
    range.selectNodeContents(element);
    const { top, bottom } = range.getBoundingClientRect();
    return { top, bottom };
  }, selector);
}

test('the countdown sits on the line of the status bar items next to it', async ({
  page
}) => {
  const item = page.locator('.jp-ModelArts-status');
  await expect(item).toContainText(/\d+:\d\d:\d\d/);
  // A core text item: the name of the current activity (the launcher here).
  const core = '#jp-main-statusbar .jp-StatusBar-TextItem';
  await expect(page.locator(core).first()).toBeVisible();

  const ours = await textBox(page, '.jp-ModelArts-status');
  const theirs = await textBox(page, core);
  expect(Math.abs(ours.top - theirs.top)).toBeLessThanOrEqual(1);
  expect(Math.abs(ours.bottom - theirs.bottom)).toBeLessThanOrEqual(1);

  const box = (await item.boundingBox())!;
  const bar = (await page.locator('#jp-main-statusbar').boundingBox())!;
  expect(box.y).toBeGreaterThanOrEqual(bar.y);
  expect(box.y + box.height).toBeLessThanOrEqual(bar.y + bar.height);
});
