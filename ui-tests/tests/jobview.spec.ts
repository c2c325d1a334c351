import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

/**
 * Submit a job through the REST API and wait until it has completed.
 */
async function runJob(
  page: IJupyterLabPageFixture,
  name: string,
  code: string,
  nodes = 1
): Promise<string> {
  const response = await page.request.post('/jupyter-modelarts/jobs', {
    data: { name, code, nodes }
  });
  expect(response.ok()).toBe(true);
  const { id } = await response.json();
  await expect
    .poll(
      async () =>
        (await (await page.request.get(`/jupyter-modelarts/jobs/${id}`)).json())
          .phase,
      { timeout: 30000 }
    )
    .toBe('Completed');
  return id;
}

/**
 * Open a job's view with the extension's command.
 */
async function openJob(
  page: IJupyterLabPageFixture,
  id: string
): Promise<Locator> {
  await page.evaluate(
    id =>
      (window as any).jupyterapp.commands.execute(
        'jupyter-modelarts:open-job',
        { id }
      ),
    id
  );
  const view = page.locator(`[id="jupyter-modelarts-job-${id}"]`);
  await expect(view).toBeVisible();
  return view;
}

test('a job view draws the log like notebook output, searches it, closes and reopens', async ({
  page
}) => {
  const id = await runJob(
    page,
    'ansi-log',
    [
      'import sys',
      "print('\\x1b[31mred\\x1b[0m plain', flush=True)",
      'for i in range(1, 101):',
      "    sys.stdout.write(f'\\rprogress {i}%|' + '#' * (i // 10))",
      '    sys.stdout.flush()',
      "print('\\nthe needle line', flush=True)"
    ].join('\n')
  );
  const view = await openJob(page, id);
  const log = view.locator('.jp-ModelArts-log');
  await expect(log).toContainText('the needle line');

  // One task: no picker.
  await expect(view.locator('.jp-ModelArts-task')).toBeHidden();
  await expect(view.locator('.jp-ModelArts-jobPhase')).toHaveText('Completed');

  // ANSI colours, in Lab's colour.
  const red = log.locator('.ansi-red-fg');
  await expect(red).toHaveText('red');
  await expect(red).toHaveCSS('color', 'rgb(231, 92, 88)');

  // The progress bar collapsed to its last state.
  const progress = log.locator('.jp-ModelArts-logLine', {
    hasText: 'progress'
  });
  await expect(progress).toHaveCount(1);
  await expect(progress).toHaveText('progress 100%|##########\n');

  // Search marks the match; wrap toggles.
  await view.locator('.jp-ModelArts-search').click();
  await view.locator('.jp-ModelArts-logQuery').fill('NEEDLE');
  await expect(log.locator('mark.jp-mod-current')).toHaveText('needle');
  await expect(view.locator('.jp-ModelArts-logCount')).toHaveText('1 of 1');
  await view.locator('.jp-ModelArts-logQuery').press('Escape');
  await expect(log.locator('mark')).toHaveCount(0);
  await view.locator('.jp-ModelArts-wrap').click();
  await expect(log).toHaveClass(/jp-mod-wrap/);

  // Closing disposes the view; opening the job again shows a new one.
  await page
    .locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'ansi-log' })
    .locator('.lm-TabBar-tabCloseIcon')
    .click();
  await expect(view).toHaveCount(0);
  const again = await openJob(page, id);
  await expect(again.locator('.jp-ModelArts-log')).toContainText(
    'the needle line'
  );
  await expect(again.locator('.jp-ModelArts-log')).not.toHaveClass(
    /jp-mod-wrap/
  );
});

test('the log of a running job grows in the view as the task writes it', async ({
  page
}) => {
  const response = await page.request.post('/jupyter-modelarts/jobs', {
    data: {
      name: 'live-log',
      code: "import time\nfor i in range(30):\n    print(f'step {i}', flush=True)\n    time.sleep(0.1)"
    }
  });
  const view = await openJob(page, (await response.json()).id);
  const log = view.locator('.jp-ModelArts-log');
  await expect(log).toContainText('step 29', { timeout: 20000 });
  await expect(view.locator('.jp-ModelArts-jobPhase')).toHaveText('Completed');
  await expect(log.locator('.jp-ModelArts-logLine')).toHaveText(
    Array.from({ length: 30 }, (_, i) => `step ${i}`).concat([''])
  );
});

test('a job with two tasks has a task picker', async ({ page }) => {
  const id = await runJob(
    page,
    'two-tasks',
    "import os\nprint('task', os.environ['VC_TASK_INDEX'], flush=True)",
    2
  );
  const view = await openJob(page, id);
  const picker = view.locator('.jp-ModelArts-task');
  await expect(picker).toBeVisible();
  await expect(picker.locator('option')).toHaveText(['worker-0', 'worker-1']);
  const log = view.locator('.jp-ModelArts-log');
  await expect(log).toContainText('task 0');
  await picker.selectOption('worker-1');
  await expect(log).toContainText('task 1');
  await expect(log).not.toContainText('task 0');
});

test('a 5 MB log opens at its end and loads earlier parts when scrolled up', async ({
  page
}) => {
  const id = await runJob(
    page,
    'big-log',
    "for i in range(100000):\n    print(f'line {i:06d} ' + 'x' * 40)"
  );
  const view = await openJob(page, id);
  const log = view.locator('.jp-ModelArts-log');
  await expect(log).toContainText('line 099999 ');
  await expect(log).not.toContainText('line 000000 ');

  // Scroll to the top until the log's first line is there (each time, an earlier part loads).
  await view.locator('.jp-ModelArts-logScroll').evaluate(async scroller => {
    const first = () => scroller.querySelector('.jp-ModelArts-logLine');
    while (!first()?.textContent?.startsWith('line 000000 ')) {
      scroller.scrollTop = 0;
      await new Promise(resolve => requestAnimationFrame(resolve));
    }
  });
  await expect(log).toContainText('line 000000 ');
  // The lines on screen stay bounded: the end was let go, and comes back on demand.
  await expect(log).not.toContainText('line 099999 ');
  await view.locator('.jp-ModelArts-logLater').click();
  await expect(log).toContainText('line 099999 ');
});
