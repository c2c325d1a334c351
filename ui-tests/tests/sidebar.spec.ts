import { expect, test } from '@jupyterlab/galata';

test('the ModelArts sidebar shows the local instance', async ({ page }) => {
  await page.click(
    '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-modelarts-sidebar"]'
  );

  const panel = page.locator('#jupyter-modelarts-sidebar');
  await expect(panel).toBeVisible();
  await expect(panel.locator('.jp-ModelArts-instance')).toContainText('local');
  await expect(panel.locator('.jp-ModelArts-instance')).toContainText(
    'RUNNING'
  );
});
