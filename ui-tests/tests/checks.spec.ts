import { expect, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

import {
  openPanel,
  recordAttribute,
  seenValues,
  submitJob,
  TestServer
} from './helpers';

/**
 * The ids and statuses of the checks shown.
 */
async function shownChecks(panel: Locator): Promise<Record<string, string>> {
  return panel.evaluate((node: HTMLElement) =>
    Object.fromEntries(
      [...node.querySelectorAll<HTMLElement>('.jp-ModelArts-check')].map(
        row => [row.dataset.id!, row.dataset.status!]
      )
    )
  );
}

test('the Checks section shows the local checks passing, folded, and runs them again', async ({
  page
}) => {
  const panel = await openPanel(page);
  const summary = panel.locator('.jp-ModelArts-checksSummary');
  const section = panel.locator('.jp-ModelArts-section-checks');
  await expect(summary).toHaveText(/^All \d+ pass · /);
  await expect(summary).toHaveAttribute('data-state', 'pass');
  // All pass: folded to its title bar, and no notice.
  await expect(section).toBeHidden();
  await expect(panel.locator('.jp-ModelArts-checksNotice')).toBeHidden();

  await panel
    .locator('.jp-AccordionPanel-title', { hasText: 'Checks' })
    .locator('.lm-AccordionPanel-titleLabel')
    .click();
  await expect(section).toBeVisible();
  await expect(section.locator('.jp-ModelArts-sub').first()).toHaveText(
    /^Checked at .+ · local backend, workspace 0$/
  );
  const checks = await shownChecks(panel);
  for (const id of [
    'local:state_dir',
    'local:disk',
    'local:objects',
    'local:data_root',
    'local:kernelspecs'
  ]) {
    expect(checks[id]).toBe('pass');
  }
  // The status is said in words beside its icon, not by colour alone.
  const disk = section.locator('.jp-ModelArts-check[data-id="local:disk"]');
  await expect(disk.locator('.jp-ModelArts-badge')).toHaveText('Pass');
  await expect(disk.locator('.jp-ModelArts-checkIcon svg')).toBeVisible();
  await expect(disk.locator('.jp-ModelArts-checkFix')).toHaveCount(0);

  // Run again: the button is disabled and the title bar says so while they run.
  const before = (await page.request.get('/jupyter-modelarts/doctor')).json();
  await recordAttribute(
    page,
    'checksState',
    '.jp-ModelArts-checksSummary',
    'data-state'
  );
  await recordAttribute(
    page,
    'runDisabled',
    '.jp-ModelArts-runChecks',
    'aria-disabled'
  );
  await panel.locator('.jp-ModelArts-runChecks').click();
  await expect
    .poll(async () => (await seenValues(page, 'checksState')).slice(-2))
    .toEqual(['running', 'pass']);
  expect(await seenValues(page, 'runDisabled')).toContain('true');
  await expect(panel.locator('.jp-ModelArts-runChecks')).not.toHaveAttribute(
    'aria-disabled',
    'true'
  );
  const after = await (
    await page.request.get('/jupyter-modelarts/doctor')
  ).json();
  expect(after.checked_at).toBeGreaterThan((await before).checked_at);
  await expect(section).toBeVisible();
});

test('a failing /doctor degrades only the Checks section', async ({ page }) => {
  await page.route('**/jupyter-modelarts/doctor*', route =>
    route.fulfill({
      status: 503,
      json: {
        message: 'The checks are unavailable',
        reason: 'Unavailable',
        code: 'ModelArts.Unavailable'
      }
    })
  );
  await page.reload();
  const panel = await openPanel(page);
  const section = panel.locator('.jp-ModelArts-section-checks');
  // Opened, to show why there is no report.
  await expect(section.locator('.jp-ModelArts-sectionError')).toContainText(
    'The checks are unavailable'
  );
  await expect(panel.locator('.jp-ModelArts-checksSummary')).toHaveText(
    'Could not check'
  );
  await expect(panel.locator('.jp-ModelArts-checksNotice')).toBeHidden();
  await expect(panel.locator('.jp-ModelArts-sectionError:visible')).toHaveCount(
    1
  );
  await expect(panel.locator('.jp-ModelArts-jobList')).toContainText(
    /No jobs yet|\d job/
  );
  await expect(panel.locator('.jp-ModelArts-workspaceName')).toHaveText(
    'default'
  );

  // Once it answers again, Retry brings the report.
  await page.unroute('**/jupyter-modelarts/doctor*');
  await section.locator('.jp-ModelArts-retry').click();
  await expect(section.locator('.jp-ModelArts-sectionError')).toBeHidden();
  await expect(panel.locator('.jp-ModelArts-checksSummary')).toHaveText(
    /^All \d+ pass · /
  );
});

/**
 * This server (jupyter_server_checks_config.py, port 8964) has a second workspace and an
 * image size limit no disk has room for, so that `local:disk` fails there; it runs only for
 * these tests, so the other specs never see the failing check.
 */
test.describe('a server with a failing check and two workspaces', () => {
  const server = new TestServer('jupyter_server_checks_config.py', 8964);

  test.use({ baseURL: server.url });

  test.beforeAll(() => server.start());

  test.afterAll(() => server.stop());

  test('a failing check shows a notice, a notification once, and its fix', async ({
    page
  }) => {
    const panel = await openPanel(page);
    const notice = panel.locator('.jp-ModelArts-checksNotice');
    await expect(notice).toBeVisible();
    await expect(notice).toHaveText('1 check fails — see Checks');
    const toast = page.locator('.Toastify__toast', {
      hasText: 'A ModelArts check fails: Free disk for saved images'
    });
    await expect(toast).toHaveCount(1);

    // Opened by itself, the failing check says why and what to do.
    const section = panel.locator('.jp-ModelArts-section-checks');
    await expect(section).toBeVisible();
    await expect(panel.locator('.jp-ModelArts-checksSummary')).toHaveText(
      /^1 of \d+ fail · /
    );
    const disk = section.locator('.jp-ModelArts-check[data-id="local:disk"]');
    await expect(disk).toHaveAttribute('data-status', 'fail');
    await expect(disk.locator('.jp-ModelArts-badge')).toHaveText('Fail');
    await expect(disk).toContainText('a save that large would run out of disk');
    await expect(disk.locator('.jp-ModelArts-checkFix')).toContainText(
      'Fix: Free disk space'
    );
    await expect(
      section.locator('.jp-ModelArts-check[data-status="pass"]')
    ).not.toHaveCount(0);

    // Folded by hand, the notice's link opens it again.
    await panel
      .locator('.jp-AccordionPanel-title', { hasText: 'Checks' })
      .locator('.lm-AccordionPanel-titleLabel')
      .click();
    await expect(section).toBeHidden();
    await notice.getByRole('button', { name: 'see Checks' }).click();
    await expect(section).toBeVisible();

    // Still failing after another run: no second notification.
    await page.request.post('/jupyter-modelarts/doctor');
    await expect(panel.locator('.jp-ModelArts-checksSummary')).toHaveText(
      /^1 of \d+ fail · /
    );
    await page.waitForTimeout(500);
    await expect(toast).toHaveCount(1);
  });

  test('the workspace picker switches workspace and the job list follows', async ({
    page
  }) => {
    await submitJob(page, 'in-default', 'true');
    const response = await page.request.post('/jupyter-modelarts/jobs', {
      data: { name: 'in-team-b', command: 'true', workspace_id: 'team-b' }
    });
    expect(response.status()).toBe(201);

    const panel = await openPanel(page);
    const picker = panel.locator('.jp-ModelArts-workspace select');
    const jobs = panel.locator('.jp-ModelArts-section-jobs');
    const row = (name: string) =>
      jobs.locator('.jp-ModelArts-job', { hasText: name });
    await expect(picker).toBeVisible();
    await expect(picker).toHaveValue('0');
    await expect(row('in-default')).toBeVisible();
    await expect(row('in-team-b')).toHaveCount(0);

    await picker.selectOption('team-b');
    await expect(row('in-team-b')).toBeVisible();
    await expect(row('in-default')).toHaveCount(0);
    const current = await (
      await page.request.get('/jupyter-modelarts/workspaces/current')
    ).json();
    expect(current.id).toBe('team-b');

    // Pushed jobs: one in the current workspace is listed, one in another is not.
    await submitJob(page, 'also-team-b', 'true');
    await expect(row('also-team-b')).toBeVisible();
    await page.request.post('/jupyter-modelarts/jobs', {
      data: { name: 'later-default', command: 'true', workspace_id: '0' }
    });
    await submitJob(page, 'last-team-b', 'true');
    await expect(row('last-team-b')).toBeVisible();
    await expect(row('later-default')).toHaveCount(0);

    // A refused pick is said under the picker, naming the IAM action and whose right it is.
    await page.route('**/jupyter-modelarts/workspaces/current*', route =>
      route.request().method() === 'PUT'
        ? route.fulfill({
            status: 403,
            json: {
              message: 'Forbidden (ModelArts.0201)',
              reason: 'PermissionDenied',
              code: 'ModelArts.0201',
              iam_action: 'modelarts:workspace:get',
              agency: true
            }
          })
        : route.continue()
    );
    await picker.selectOption('0');
    const message = panel.locator('.jp-ModelArts-workspaceMessage');
    await expect(message).toContainText('modelarts:workspace:get');
    await expect(message).toContainText("the ModelArts agency's, not yours");
    await expect(picker).toHaveValue('team-b');
    await page.unroute('**/jupyter-modelarts/workspaces/current*');

    // Back to the default workspace, and its jobs.
    await picker.selectOption('0');
    await expect(row('in-default')).toBeVisible();
    await expect(row('later-default')).toBeVisible();
    await expect(row('in-team-b')).toHaveCount(0);
    await expect(message).toBeEmpty();
  });
});
