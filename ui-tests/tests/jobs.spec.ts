import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

import { dialog, openPanel, submitJob, TestServer } from './helpers';

/**
 * The names of the drawn rows of a list, in list order.
 */
async function rowNames(list: Locator): Promise<string[]> {
  return list.evaluate((node: HTMLElement) =>
    [...node.querySelectorAll<HTMLElement>('.jp-ModelArts-job')]
      .sort(
        (a, b) =>
          Number(a.getAttribute('aria-posinset')) -
          Number(b.getAttribute('aria-posinset'))
      )
      .map(row => row.querySelector('.jp-ModelArts-jobName')!.textContent!)
  );
}

/**
 * Whether names are in order, as the server sorts them (case-insensitively).
 */
function inOrder(names: string[], order: 'asc' | 'desc'): boolean {
  const keys = names.map(n => n.toLowerCase());
  return keys.every(
    (key, i) =>
      i === 0 || (order === 'asc' ? keys[i - 1] <= key : keys[i - 1] >= key)
  );
}

test('a job submitted from the dialog runs, stops from its row and is deleted from the context menu', async ({
  page
}) => {
  // The script comes from the file browser's selection.
  await page.sidebar.openTab('filebrowser');
  await page.filebrowser.openDirectory('training');
  await page.locator('.jp-DirListing-item', { hasText: 'train.py' }).click();

  const panel = await openPanel(page);
  await panel.locator('.jp-ModelArts-submitJob').click();
  const form = dialog(page);
  await expect(form.locator('.jp-ModelArts-jobScript')).toHaveValue(
    'training/train.py'
  );
  const name = form.locator('.jp-ModelArts-jobName');
  await expect(name).toHaveValue(/^train-/);
  await expect(form.locator('.jp-ModelArts-jobFlavor')).toHaveValue(
    'local.cpu'
  );
  await expect(form.locator('.jp-ModelArts-jobEngine')).toHaveValue('python3');
  const parameters = form.locator('.jp-ModelArts-jobParameters');
  await parameters.fill('lr 0.1');
  await expect(parameters).toHaveAttribute('aria-invalid', 'true');
  await expect(form.locator('.jp-mod-accept')).toBeDisabled();
  // Enter in the parameters adds a line; it does not send the form.
  await parameters.fill('lr=0.1');
  await parameters.press('Enter');
  await parameters.pressSequentially('epochs=2');
  await expect(parameters).toHaveValue('lr=0.1\nepochs=2');
  const jobName = await name.inputValue();
  await form.locator('.jp-mod-accept').click();
  await expect(form).toHaveCount(0);

  // The job view opens; the row shows the job running.
  await expect(page.locator('.jp-ModelArts-jobView')).toBeVisible();
  const row = panel.locator('.jp-ModelArts-job', { hasText: jobName });
  await expect(row).toHaveAttribute('data-phase', 'Running');
  await expect(row.locator('.jp-ModelArts-jobTime')).toHaveText(/now|ago/);

  // Stop from the row's hover actions.
  await row.hover();
  await expect(row.locator('.jp-ModelArts-jobDelete')).toBeDisabled();
  await row.locator('.jp-ModelArts-jobStop').click();
  await expect(row).toHaveAttribute('data-phase', 'Terminated', {
    timeout: 20000
  });

  // Delete from the context menu, with confirmation.
  const id = await row.getAttribute('data-id');
  // On the name: the row's centre can be a disabled hover button, which gets no mouse event.
  await row.locator('.jp-ModelArts-jobName').click({ button: 'right' });
  await page
    .locator('.lm-Menu-item:not(.lm-mod-disabled)', {
      hasText: 'Delete Training Job…'
    })
    .click();
  const confirm = page.locator('.jp-Dialog');
  await expect(confirm).toContainText(`Delete ${jobName}?`);
  await confirm.locator('.jp-mod-warn').click();
  await expect(row).toHaveCount(0);
  expect(
    (await page.request.get(`/jupyter-modelarts/jobs/${id}`)).status()
  ).toBe(404);
});

test('the list sorts and filters; the main-area view has more columns and reopens', async ({
  page
}) => {
  for (const name of ['sort-B', 'sort-a', 'sort-C']) {
    await submitJob(page, name, 'true');
  }
  const panel = await openPanel(page);
  const list = panel.locator('.jp-ModelArts-jobList');
  await expect(
    list.locator('.jp-ModelArts-job', { hasText: 'sort-C' })
  ).toBeVisible();

  const sort = list.locator('.jp-ModelArts-jobSort');
  await sort.selectOption('name:asc');
  await expect
    .poll(async () => inOrder(await rowNames(list), 'asc'))
    .toBe(true);
  await sort.selectOption('name:desc');
  await expect
    .poll(async () => inOrder(await rowNames(list), 'desc'))
    .toBe(true);

  await list.locator('.jp-ModelArts-phaseFilter').selectOption('Completed');
  // Until the filtered page replaces the whole list: Completed rows only, and some.
  await expect
    .poll(async () => {
      const phases = await list
        .locator('.jp-ModelArts-job')
        .evaluateAll(rows => rows.map(r => r.getAttribute('data-phase')));
      return phases.length > 0 && phases.every(p => p === 'Completed');
    })
    .toBe(true);
  await list.locator('.jp-ModelArts-phaseFilter').selectOption('');

  // The main-area view: the same jobs, one line each, sorted by its headers.
  await panel.locator('.jp-ModelArts-openJobs').click();
  const view = page.locator('#jupyter-modelarts-jobs');
  await expect(view).toBeVisible();
  await expect(view.locator('.jp-ModelArts-jobHeadCell')).toContainText([
    'Name',
    'Phase',
    'Submitted',
    'Started',
    'Duration',
    'Flavor',
    'Nodes',
    'Backend',
    'Message'
  ]);
  const wide = view.locator('.jp-ModelArts-jobList');
  await expect(
    wide.locator('.jp-ModelArts-job', { hasText: 'sort-a' })
  ).toBeVisible();
  await view.locator('.jp-ModelArts-jobHeadCell[data-sort="created"]').click();
  await expect(
    view.locator('.jp-ModelArts-jobHeadCell[data-sort="created"]')
  ).toHaveAttribute('aria-sort', 'descending');
  await view.locator('.jp-ModelArts-jobHeadCell[data-sort="name"]').click();
  await expect(
    view.locator('.jp-ModelArts-jobHeadCell[data-sort="name"]')
  ).toHaveAttribute('aria-sort', 'ascending');
  await expect
    .poll(async () => inOrder(await rowNames(wide), 'asc'))
    .toBe(true);
  // One model: the sidebar shows the same order.
  await expect(sort).toHaveValue('name:asc');

  // Closed, it opens again.
  await page
    .locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
      hasText: 'Training Jobs'
    })
    .locator('.lm-TabBar-tabCloseIcon')
    .click();
  await expect(view).toHaveCount(0);
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('jupyter-modelarts:open-jobs')
  );
  await expect(page.locator('#jupyter-modelarts-jobs')).toBeVisible();
  await expect(
    page.locator('#jupyter-modelarts-jobs .jp-ModelArts-job').first()
  ).toBeVisible();
});

test.describe('a history of 1,000 jobs', () => {
  // Its own server, whose job store holds 1,000 ended jobs before it starts.
  const server = new TestServer('jupyter_server_jobs_config.py', 8963);
  test.use({ baseURL: server.url });
  test.beforeAll(() => server.start());
  test.afterAll(() => server.stop());

  test('pages in as the list scrolls, drawing only the visible rows', async ({
    page
  }) => {
    const panel = await openPanel(page);
    const list = panel.locator('.jp-ModelArts-jobList');
    const count = list.locator('.jp-ModelArts-jobCount');
    await expect(count).toHaveText('50 of 1,000 jobs');
    await expect(list.locator('.jp-ModelArts-job').first()).toHaveAttribute(
      'data-id',
      'history-0000'
    );

    // Scroll to the end again and again: each time the next page comes in.
    const figures = await scrollToEnd(page, list);
    await expect(count).toHaveText('1,000 jobs');
    await expect(list.locator('.jp-ModelArts-loadMore')).toBeHidden();
    await expect(
      list.locator('.jp-ModelArts-job[data-id="history-0999"]')
    ).toBeVisible();
    // However long the list, only the rows in view (and a few around) exist.
    expect(figures.maxRows).toBeLessThanOrEqual(40);
    console.log(
      `1,000 jobs: all pages in ${figures.ms} ms over ${figures.steps} scrolls, ` +
        `at most ${figures.maxRows} rows drawn, longest frame ${figures.longestFrame} ms`
    );

    // Sorted by duration on the server: the longest first, across all pages.
    await list.locator('.jp-ModelArts-jobSort').selectOption('duration:desc');
    await expect(count).toHaveText(/ of 1,000 jobs$/);
    await expect(
      list
        .locator('.jp-ModelArts-job')
        .first()
        .locator('.jp-ModelArts-jobDuration')
    ).toHaveText('1m 36s');
  });
});

/**
 * Scroll a job list to its end until every job is loaded, noting the drawn rows and the
 * longest gap between two frames.
 */
async function scrollToEnd(
  page: IJupyterLabPageFixture,
  list: Locator
): Promise<{
  ms: number;
  steps: number;
  maxRows: number;
  longestFrame: number;
}> {
  return list.evaluate(async (node: HTMLElement) => {
    const scroller = node.querySelector<HTMLElement>(
      '.jp-ModelArts-jobScroll'
    )!;
    const count = node.querySelector<HTMLElement>('.jp-ModelArts-jobCount')!;
    let maxRows = 0;
    let longestFrame = 0;
    let last = performance.now();
    let running = true;
    const frame = (now: number) => {
      longestFrame = Math.max(longestFrame, now - last);
      last = now;
      maxRows = Math.max(
        maxRows,
        node.querySelectorAll('.jp-ModelArts-job').length
      );
      if (running) {
        requestAnimationFrame(frame);
      }
    };
    requestAnimationFrame(frame);
    const start = performance.now();
    let steps = 0;
    while (count.textContent !== '1,000 jobs' && steps < 500) {
      scroller.scrollTop += scroller.clientHeight;
      steps++;
      await new Promise(resolve => requestAnimationFrame(resolve));
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    scroller.scrollTop = scroller.scrollHeight;
    await new Promise(resolve => requestAnimationFrame(resolve));
    running = false;
    return {
      ms: Math.round(performance.now() - start),
      steps,
      maxRows,
      longestFrame: Math.round(longestFrame)
    };
  });
}
