/**
 * The browser half of bench/tabs.py: headless Chromium (Debian's, through the playwright-core
 * of ui-tests) with JupyterLab tabs on the bench server. Reads its plan as JSON from argv[2],
 * reports progress on stderr and its measures as one JSON object on stdout.
 */
const fs = require('fs');
const path = require('path');
const { chromium } = require(
  path.join(__dirname, '../ui-tests/node_modules/playwright-core')
);
const launchOptions = require(path.join(__dirname, '../ui-tests/chromium.js'));

const plan = JSON.parse(process.argv[2]);
const API = '/jupyter-modelarts/';
const OURS = 'https://jupyter-modelarts.github.io/events/';

const log = text => process.stderr.write(`  ${text}\n`);
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function rest(method, route, body) {
  const response = await fetch(`${plan.base}${route.replace(/^\//, '')}`, {
    method,
    headers: {
      Authorization: `token ${plan.token}`,
      'Content-Type': 'application/json'
    },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  if (!response.ok) {
    throw new Error(`${method} ${route}: ${response.status}`);
  }
  return response.status === 204 ? null : response.json();
}

/**
 * In every page: a way to play hidden (headless tabs never are), and a record of when each
 * `data-phase` of a job first shows, in the panel or in a cell output.
 */
function pageScript() {
  let hidden = false;
  Object.defineProperty(Document.prototype, 'hidden', {
    get: () => hidden
  });
  Object.defineProperty(Document.prototype, 'visibilityState', {
    get: () => (hidden ? 'hidden' : 'visible')
  });
  window.__setHidden = value => {
    hidden = value;
    document.dispatchEvent(new Event('visibilitychange'));
  };
  const seen = (window.__seen = {});
  const note = () => {
    const now = Date.now();
    for (const el of document.querySelectorAll('[data-phase]')) {
      const id = el.getAttribute('data-id') || el.getAttribute('data-job-id');
      if (!id) {
        continue;
      }
      const where = el.closest('#jupyter-modelarts-sidebar') ? 'panel' : 'cell';
      const key = `${where}:${id}:${el.getAttribute('data-phase')}`;
      if (!(key in seen)) {
        seen[key] = now;
      }
    }
  };
  new MutationObserver(note).observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['data-phase']
  });
}

/**
 * A JupyterLab tab with the ModelArts panel open, counting its API requests and the bytes of
 * what it receives.
 */
async function openTab(browser) {
  const context = await browser.newContext({
    viewport: { width: 1400, height: 900 }
  });
  await context.addInitScript(pageScript);
  const page = await context.newPage();
  const tab = { page, requests: [], frames: [], responses: [], errors: [] };
  page.on('console', message => {
    if (message.type() === 'error') {
      tab.errors.push(message.text().slice(0, 300));
    }
  });
  page.on('pageerror', error => tab.errors.push(error.message));
  page.on('request', request => {
    if (request.url().includes(API)) {
      tab.requests.push({ at: Date.now(), url: request.url() });
    }
  });
  page.on('response', async response => {
    if (response.url().includes(API)) {
      const sizes = await response
        .request()
        .sizes()
        .catch(() => null);
      tab.responses.push({
        at: Date.now(),
        url: response.url(),
        bytes: sizes ? sizes.responseBodySize + sizes.responseHeadersSize : 0
      });
    }
  });
  page.on('websocket', ws => {
    if (ws.url().includes('/api/events/subscribe')) {
      ws.on('framereceived', frame => {
        const text = String(frame.payload);
        const match = /"schema_id":\s*"([^"]+)"/.exec(text);
        if (match && match[1].startsWith(OURS)) {
          tab.frames.push({
            at: Date.now(),
            schema: match[1].slice(OURS.length),
            bytes: Buffer.byteLength(text),
            text: text.slice(0, 160)
          });
        }
      });
    }
  });
  await visit(page, 'lab');
  return tab;
}

/**
 * Load a JupyterLab route in a page and open the ModelArts panel.
 */
async function visit(page, route) {
  await page.goto(`${plan.base}${route}?token=${plan.token}`);
  await page.waitForSelector('.jp-ModelArts-status', { timeout: 60000 });
  const panel = page.locator('#jupyter-modelarts-sidebar');
  if (!(await panel.isVisible())) {
    await page
      .locator(
        '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-modelarts-sidebar"]'
      )
      .click();
  }
  await panel.waitFor({ state: 'visible' });
}

function countSince(tab, since, until) {
  return tab.requests.filter(r => r.at >= since && r.at < until).length;
}

async function idle(tabs, seconds) {
  await sleep(5000); // first loads and lazily loaded chunks settle
  const since = Date.now();
  await sleep(seconds * 1000);
  const until = Date.now();
  return tabs.map(tab => (countSince(tab, since, until) * 60) / seconds);
}

async function seenAt(tab, key, timeout = 20000) {
  try {
    const handle = await tab.page.waitForFunction(
      key => window.__seen[key],
      key,
      { timeout, polling: 20 }
    );
    return handle.jsonValue();
  } catch (error) {
    const shown = await tab.page.evaluate(() =>
      [...document.querySelectorAll('[data-phase]')]
        .slice(0, 5)
        .map(
          e => `${e.getAttribute('data-id')}=${e.getAttribute('data-phase')}`
        )
    );
    const recent = tab.frames
      .filter(f => f.at > Date.now() - timeout - 5000)
      .map(f => f.text);
    const asked = tab.requests
      .filter(r => r.at > Date.now() - timeout - 5000)
      .map(r => r.url);
    throw new Error(
      `${key} not shown; first rows: ${shown.join(' ')}; frames: ${recent.join(' ')}; ` +
        `requests: ${asked.join(' ')}; ${tab.frames.length} frames in all; ` +
        `errors: ${tab.errors.join(' | ')}`
    );
  }
}

async function main() {
  const browser = await chromium.launch(launchOptions);
  const out = {};
  try {
    log('1 idle tab');
    const first = await openTab(browser);
    [out.idle1] = await idle([first], plan.seconds);

    log('3 idle tabs and a hidden one');
    const tabs = [first, await openTab(browser), await openTab(browser)];
    const hidden = await openTab(browser);
    await hidden.page.evaluate(() => window.__setHidden(true));
    const rates = await idle([...tabs, hidden], plan.seconds);
    out.idle3 = rates.slice(0, 3);
    out.hidden = rates[3];
    const back = Date.now();
    await hidden.page.evaluate(() => window.__setHidden(false));
    await sleep(3000);
    out.backToFront = countSince(hidden, back, Date.now());
    await hidden.page.context().close();

    log(`phase changes of ${plan.jobs} jobs`);
    const jobs = [];
    for (let i = 0; i < plan.jobs; i++) {
      const trigger = path.join(plan.triggers, `go-${i}`);
      const job = await rest('POST', `${API}jobs`, {
        name: `bench-tabs-${i}`,
        code: `import os, time\nwhile not os.path.exists(${JSON.stringify(trigger)}):\n    time.sleep(0.002)\n`
      });
      jobs.push({ id: job.id, trigger });
      const shown = await Promise.all(
        tabs.map(tab => seenAt(tab, `panel:${job.id}:Running`))
      );
      const running = await rest('GET', `${API}jobs/${job.id}`);
      jobs[i].running = shown.map(at => at - running.started_at);
    }
    // The first tab opens a notebook whose cells show the jobs' outputs (as %%ma_train does).
    const cells = jobs.map(job => ({
      cell_type: 'code',
      execution_count: null,
      metadata: {},
      source: '',
      outputs: [
        {
          output_type: 'display_data',
          metadata: {},
          data: {
            'application/vnd.jupyter-modelarts.job+json': { job_id: job.id },
            'text/plain': `job ${job.id}`
          }
        }
      ]
    }));
    await rest('PUT', '/api/contents/bench-tabs.ipynb', {
      type: 'notebook',
      format: 'json',
      content: {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells
      }
    });
    await visit(first.page, 'lab/tree/bench-tabs.ipynb');
    await first.page.waitForSelector('.jp-ModelArts-jobOutput[data-phase]', {
      timeout: 60000
    });
    await sleep(2000);
    const updateStart = Date.now();
    for (const job of jobs) {
      fs.writeFileSync(job.trigger, '');
      const shown = await Promise.all([
        ...tabs.map(tab => seenAt(tab, `panel:${job.id}:Completed`)),
        seenAt(first, `cell:${job.id}:Completed`)
      ]);
      const ended = await rest('GET', `${API}jobs/${job.id}`);
      job.completed = shown.map(at => at - ended.ended_at);
      await sleep(1500); // the outputs' log reads of this update land before the next
    }
    // What the first tab received per update: event frames, and what it fetched.
    const updates = jobs.length;
    const since = f => f.at >= updateStart;
    out.frames = first.frames.filter(since);
    out.fetched = first.responses.filter(since);
    out.updates = updates;
    out.jobs = jobs;
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch(error => {
  process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
});
