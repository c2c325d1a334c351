import { expect, Page, test } from '@playwright/test';

/**
 * Errors that mean our extension, or any plugin, broke: from our code (our bundle's URL is in
 * the stack), or a plugin that failed to activate or lacked a required token.
 */
const BROKEN =
  /jupyter-modelarts|jupyter_modelarts|ModelArts|failed to activate|No provider for/i;

/**
 * Open the ModelArts panel the way a user does: its tab in JupyterLab's left side bar, or
 * View › Left Sidebar › Show ModelArts in Notebook 7, where side panels start collapsed.
 */
async function openPanel(page: Page, app: string): Promise<void> {
  if (app === 'lab') {
    await page
      .locator(
        '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-modelarts-sidebar"]'
      )
      .click();
    return;
  }
  await page.locator('.lm-MenuBar-itemLabel', { hasText: /^View$/ }).click();
  await page
    .locator('.lm-Menu-itemLabel', { hasText: /^Left Sidebar$/ })
    .click();
  await page
    .locator('.lm-Menu-itemLabel', { hasText: /^Show ModelArts$/ })
    .click();
}

test('the ModelArts panel works in this front end', async ({
  page
}, testInfo) => {
  const { app, token } = testInfo.config.metadata as {
    app: string;
    token: string;
  };
  const problems: string[] = [];
  // Uncaught errors of the host itself are not ours to fix (Notebook 7.6.5 throws one while
  // loading settings); ours have our bundle's URL in their stack.
  page.on('pageerror', error => {
    const text = `${error.message}\n${error.stack}`;
    if (BROKEN.test(text)) {
      problems.push(`pageerror: ${text}`);
    }
  });
  const versionWarnings: string[] = [];
  page.on('console', message => {
    const text = message.text();
    if (text.startsWith('Unsatisfied version')) {
      versionWarnings.push(text);
    } else if (message.type() === 'error' && BROKEN.test(text)) {
      problems.push(text);
    }
  });

  await page.goto(`/${app === 'lab' ? 'lab' : 'tree'}?token=${token}`);
  // What our remoteEntry asks of the host's shared modules, as `module (required range)`,
  // the way Module Federation words a mismatch.
  const required = await page.evaluate(async () => {
    const config = JSON.parse(
      document.getElementById('jupyter-config-data')!.textContent!
    );
    const ours = (
      config.federated_extensions as { name: string; load: string }[]
    ).find(e => e.name === 'jupyter-modelarts')!;
    const url = `${config.fullLabextensionsUrl}/${ours.name}/${ours.load}`;
    const source = await (await fetch(url)).text();
    return [
      ...source.matchAll(/"([^"]+)",import:[^}]*?requiredVersion:"([^"]+)"/g)
    ].map(([, name, range]) => `${name} (required ${range})`);
  });
  expect(required).toContain('@jupyterlab/application (required ^4.0.0)');
  await openPanel(page, app);

  const panel = page.locator('#jupyter-modelarts-sidebar');
  await expect(panel).toBeVisible();
  const instance = panel.locator('.jp-ModelArts-instance');
  await expect(instance).toContainText('local');
  await expect(instance).toContainText('RUNNING');
  // The server's 2-hour lease, counting down.
  await expect(panel.locator('.jp-ModelArts-countdown')).toHaveText(
    /^1:5\d:\d\d$/
  );
  if (app === 'lab') {
    await expect(page.locator('.jp-ModelArts-status')).toHaveText(
      /^⏻ 1:5\d:\d\d$/
    );
  }

  // A mount (from its dialog) outside /data shows where it really is.
  await panel.locator('.jp-ModelArts-addMount').click();
  const form = page.locator('.jp-Dialog.jp-ModelArts-dialog');
  await form.locator('.jp-ModelArts-mountUri').fill('obs://bucket/datasets/');
  await expect(form.locator('.jp-ModelArts-mountPath')).toHaveValue(
    '/data/datasets/'
  );
  await form.locator('.jp-Dialog-button.jp-mod-accept').click();
  const mount = panel.locator(
    '.jp-ModelArts-mount[data-path="/data/datasets/"]'
  );
  await expect(mount).toHaveAttribute('data-status', 'MOUNTED');
  await expect(mount.locator('.jp-ModelArts-mountLocal')).toHaveText(
    /^on this machine: \/.+\/root\/data\/datasets\/?$/
  );

  // Other extensions may be built against a newer host and warn for their own ranges.
  const mismatches = versionWarnings.filter(text =>
    required.some(r => text.endsWith(`module ${r}`))
  );
  expect(mismatches).toEqual([]);
  expect(problems).toEqual([]);
});
