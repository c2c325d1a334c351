import { expect, galata, test } from '@jupyterlab/galata';

import { openPanel } from './helpers';

// Lab in Simplified Chinese, as Settings ▸ Language ▸ 中文 sets it. galata keeps settings in
// memory for each test, so no other spec sees this.
test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    '@jupyterlab/translation-extension:plugin': { locale: 'zh_CN' }
  },
  // galata's readiness check looks for a tab named "Launcher": here it is 启动页.
  waitForApplication: async ({}, use) => {
    await use(async page => {
      await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
      await page
        .locator('.lm-TabBar-tab.lm-mod-current', { hasText: '启动页' })
        .waitFor();
    });
  }
});

test('the panel, the countdown and the server errors speak Chinese', async ({
  page
}) => {
  try {
    // Lab's own menus (the official language pack) and ours (our catalogue).
    await expect(
      page.locator('#jp-menu-panel .lm-MenuBar-itemLabel').first()
    ).toHaveText('文件');
    const panel = await openPanel(page);
    await expect(panel.locator('.lm-AccordionPanel-titleLabel')).toHaveText([
      '训练作业',
      '存储',
      '镜像',
      '检查'
    ]);
    const countdown = page.locator('.jp-StatusBar-Widget .jp-ModelArts-status');
    await expect(countdown).toHaveText(/^⏻ \d{1,2}:\d\d:\d\d$/);
    await expect(countdown).toHaveAttribute('title', /后自动停止.*点击续期/);

    // An error of the server, in a notification: the server's message is Chinese too.
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute(
        'jupyter-modelarts:stop-job',
        {
          id: 'no-such-job'
        }
      )
    );
    await expect(
      page.locator('.Toastify__toast', { hasText: '没有作业 no-such-job' })
    ).toBeVisible();
  } finally {
    // The server keeps the last language a page sent (for kernels): back to English.
    await page.request.get('/jupyter-modelarts/instance', {
      headers: { 'X-ModelArts-Language': 'en' }
    });
  }
});
