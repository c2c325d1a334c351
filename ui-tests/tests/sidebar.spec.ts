import { expect, test } from '@jupyterlab/galata';

import { dialog, openPanel, seconds, submitJob } from './helpers';

test('the panel: instance, countdown and workspace on top, then jobs, storage, images, checks', async ({
  page
}) => {
  const panel = await openPanel(page);

  const instance = panel.locator('.jp-ModelArts-instance');
  await expect(instance).toContainText('local');
  await expect(instance).toContainText('RUNNING');
  await expect(instance).toContainText('This machine');
  // The lease of the test server (other specs renew it), counting down; the panel and the
  // status bar show the one countdown.
  const countdown = panel.locator('.jp-ModelArts-countdown');
  await expect(countdown).toHaveText(/^\d{1,2}:\d\d:\d\d$/);
  const shown = await countdown.textContent();
  await expect(
    page.locator('.jp-StatusBar-Widget .jp-ModelArts-status')
  ).toHaveText(/^⏻ \d{1,2}:\d\d:\d\d$/);
  await expect(countdown).not.toHaveText(shown ?? '');
  // The test server has one workspace: its name, no picker.
  const workspace = panel.locator('.jp-ModelArts-workspace');
  await expect(workspace).toContainText('Workspace');
  await expect(workspace.locator('.jp-ModelArts-workspaceName')).toHaveText(
    'default'
  );
  await expect(workspace.locator('select')).toBeHidden();

  // Folding sections, the jobs first, each with its LabIcon buttons in its title bar.
  await expect(panel.locator('.lm-AccordionPanel-titleLabel')).toHaveText([
    'Training jobs',
    'Storage',
    'Images',
    'Checks'
  ]);
  for (const button of [
    'submitJob',
    'openJobs',
    'refresh',
    'addMount',
    'saveImage',
    'runChecks'
  ]) {
    await expect(
      panel.locator(`.jp-AccordionPanel-toolbar .jp-ModelArts-${button}`)
    ).toBeVisible();
  }
  // A click on a title bar button opens its dialog without folding the section.
  await panel.locator('.jp-ModelArts-addMount').click();
  await expect(dialog(page)).toContainText('Mount an OBS folder');
  await dialog(page).locator('.jp-mod-reject').click();
  await expect(panel.locator('.jp-ModelArts-section-storage')).toBeVisible();
  // Folding a section by its title.
  const title = panel.locator('.jp-AccordionPanel-title', {
    hasText: 'Images'
  });
  await title.locator('.lm-AccordionPanel-titleLabel').click();
  await expect(panel.locator('.jp-ModelArts-section-image')).toBeHidden();
  await title.locator('.lm-AccordionPanel-titleLabel').click();
  await expect(panel.locator('.jp-ModelArts-section-image')).toBeVisible();
});

test('renew from the panel, the status bar and the palette', async ({
  page
}) => {
  const panel = await openPanel(page);
  const clock = panel.locator('.jp-ModelArts-countdown');
  const status = page.locator('.jp-StatusBar-Widget .jp-ModelArts-status');
  await expect(clock).toHaveText(/^\d+:\d\d:\d\d$/);

  // Renew for 4 hours from the panel's dialog.
  await panel.locator('.jp-ModelArts-renew').click();
  await dialog(page).locator('.jp-ModelArts-renewHours').selectOption('4');
  await dialog(page).locator('.jp-mod-accept').click();
  await expect(dialog(page)).toHaveCount(0);
  await expect(clock).toHaveText(/^(4:00:00|3:59:\d\d)$/);
  await expect(status).toHaveText(/^⏻ (4:00:00|3:59:\d\d)$/);
  const before = seconds((await status.textContent())!);

  // It ticks locally.
  await expect
    .poll(async () => seconds((await status.textContent())!), {
      timeout: 5000
    })
    .toBeLessThan(before);

  // Renew for 8 hours from the status-bar menu, with the keyboard.
  await status.focus();
  await page.keyboard.press('Enter');
  const menu = page.locator('.jp-ModelArts-renewMenu');
  await expect(menu).toBeVisible();
  await menu.getByText('Renew Auto-stop for 8 Hours').click();
  await expect(status).toHaveText(/^⏻ (8:00:00|7:59:\d\d)$/);
  await expect(clock).toHaveText(/^(8:00:00|7:59:\d\d)$/);

  // The server agrees.
  const lease = await (
    await page.request.get('/jupyter-modelarts/lease')
  ).json();
  expect(lease.remaining_s).toBeGreaterThan(7.9 * 3600);

  // Renew for 1 hour from the command palette, then back to 2 hours for the next tests.
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('jupyter-modelarts:renew', {
      hours: 1
    })
  );
  await expect(status).toHaveText(/^⏻ (1:00:00|0:59:\d\d)$/);
  await page.request.patch('/jupyter-modelarts/lease', {
    data: { duration_s: 7200 }
  });
  await expect(clock).toHaveText(/^(2:00:00|1:59:\d\d)$/);
});

test('the panel fits the narrowest sidebar without scrolling sideways', async ({
  page
}) => {
  await submitJob(
    page,
    'a-rather-long-job-name-that-cannot-fit-in-a-narrow-sidebar',
    'true'
  );
  await page.request.post('/jupyter-modelarts/mounts', {
    data: {
      uri: 'obs://bucket/datasets/',
      mount_path: '/data/a-long-mount-path-that-does-not-fit-either/'
    }
  });
  const panel = await openPanel(page);
  // As narrow as Lab lets it be (250 px; the old panel had 226 px inside its padding).
  await page.sidebar.setWidth(226, 'left');
  await expect(
    panel.locator('.jp-ModelArts-job', { hasText: 'a-rather-long-job-name' })
  ).toBeVisible();
  await expect(
    panel.locator('.jp-ModelArts-mount[data-status="MOUNTED"]')
  ).toBeVisible();
  // Hovering shows the row's actions over its end, not beside it.
  await panel.locator('.jp-ModelArts-job').first().hover();

  // No scrolling container of the panel is wider than its box (the sidebar included).
  const overflowing = await panel.evaluate((node: HTMLElement) => {
    const width = node.getBoundingClientRect().width;
    const wide = [node, ...node.querySelectorAll<HTMLElement>('*')]
      .filter(e => e === node || e.offsetParent !== null)
      .filter(
        e =>
          (e === node ||
            ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)) &&
          e.scrollWidth > e.clientWidth
      )
      .map(e => `${e.className} ${e.scrollWidth}>${e.clientWidth}`);
    return { width, wide };
  });
  expect(overflowing.width).toBeLessThanOrEqual(250);
  expect(overflowing.wide).toEqual([]);
  // Every row and line stays inside the panel.
  const right = await panel.evaluate(
    (node: HTMLElement) => node.getBoundingClientRect().right
  );
  for (const row of await panel
    .locator(
      '.jp-ModelArts-job, .jp-ModelArts-mount, .jp-ModelArts-head > *:visible'
    )
    .all()) {
    const box = (await row.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(right + 0.5);
  }
});

test('disabled controls look disabled', async ({ page }) => {
  const id = await submitJob(page, 'ended-job', 'true');
  const panel = await openPanel(page);
  const look = (selector: string) =>
    page.locator(selector).evaluate((node: HTMLElement) => ({
      disabled: (node as HTMLButtonElement).disabled,
      opacity: Number(getComputedStyle(node).opacity),
      cursor: getComputedStyle(node).cursor
    }));

  // The accept button of a form that can't be sent yet.
  await panel.locator('.jp-ModelArts-addMount').click();
  const accept = '.jp-ModelArts-dialog .jp-Dialog-button.jp-mod-accept';
  expect(await look(accept)).toEqual({
    disabled: true,
    opacity: 0.4,
    cursor: 'not-allowed'
  });
  await dialog(page)
    .locator('.jp-ModelArts-mountUri')
    .fill('obs://bucket/datasets/');
  await expect(page.locator(accept)).toBeEnabled();
  expect((await look(accept)).opacity).toBe(1);
  await dialog(page).locator('.jp-mod-reject').click();

  // The stop button of an ended job, next to its enabled delete.
  const row = panel.locator(`.jp-ModelArts-job[data-id="${id}"]`);
  await expect(row).toHaveAttribute('data-phase', 'Completed');
  await row.hover();
  const stop = `.jp-ModelArts-job[data-id="${id}"] .jp-ModelArts-jobStop`;
  const remove = `.jp-ModelArts-job[data-id="${id}"] .jp-ModelArts-jobDelete`;
  expect(await look(stop)).toEqual({
    disabled: true,
    opacity: 0.4,
    cursor: 'not-allowed'
  });
  expect(await look(remove)).toMatchObject({ disabled: false, opacity: 1 });
});

test('a failing endpoint degrades only its own section', async ({ page }) => {
  await page.route('**/jupyter-modelarts/mounts*', route =>
    route.fulfill({
      status: 403,
      contentType: 'application/json',
      body: JSON.stringify({
        message: 'Forbidden: no OBS permission',
        reason: 'Forbidden',
        code: 'ModelArts.Forbidden'
      })
    })
  );
  await page.reload();
  const panel = await openPanel(page);

  const storage = panel.locator('.jp-ModelArts-section-storage');
  await expect(storage.locator('.jp-ModelArts-sectionError')).toContainText(
    'Forbidden: no OBS permission'
  );
  // The others work: the countdown ticks, the jobs list and the images show.
  const clock = panel.locator('.jp-ModelArts-countdown');
  const before = seconds((await clock.textContent())!);
  await expect
    .poll(async () => seconds((await clock.textContent())!), { timeout: 5000 })
    .toBeLessThan(before);
  await expect(panel.locator('.jp-ModelArts-sectionError:visible')).toHaveCount(
    1
  );
  await expect(panel.locator('.jp-ModelArts-section-image')).toContainText(
    /No saved images|local\//
  );
  await expect(panel.locator('.jp-ModelArts-jobList')).toContainText(
    /No jobs yet|\d job/
  );

  // Once the endpoint answers again, Retry brings the section back.
  await page.unroute('**/jupyter-modelarts/mounts*');
  await storage.locator('.jp-ModelArts-retry').click();
  await expect(storage.locator('.jp-ModelArts-sectionError')).toBeHidden();
});
