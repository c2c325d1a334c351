import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator, Page } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

/**
 * Open the ModelArts panel and wait until it shows the instance.
 */
export async function openPanel(
  page: IJupyterLabPageFixture
): Promise<Locator> {
  const tab = page.locator(
    '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-modelarts-sidebar"]'
  );
  const panel = page.locator('#jupyter-modelarts-sidebar');
  if (!(await panel.isVisible())) {
    await tab.click();
  }
  await expect(panel).toBeVisible();
  await expect(panel.locator('.jp-ModelArts-instance')).toContainText('local');
  return panel;
}

/**
 * The open form dialog (mount, save image, submit, renew).
 */
export function dialog(page: Page): Locator {
  return page.locator('.jp-Dialog.jp-ModelArts-dialog');
}

/**
 * Parse `h:mm:ss` into seconds.
 */
export function seconds(text: string): number {
  const match = /(\d+):(\d\d):(\d\d)/.exec(text);
  if (!match) {
    throw new Error(`no countdown in "${text}"`);
  }
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

/**
 * Submit a job through the REST API.
 *
 * @returns The job's id
 */
export async function submitJob(
  page: Page,
  name: string,
  command: string
): Promise<string> {
  const response = await page.request.post('/jupyter-modelarts/jobs', {
    data: { name, command }
  });
  expect(response.status()).toBe(201);
  return (await response.json()).id;
}

/**
 * Record every value an attribute takes on the elements matching a selector, from now on
 * (states that last only a moment are seen too). Read them back with `seenValues`.
 */
export async function recordAttribute(
  page: IJupyterLabPageFixture,
  key: string,
  selector: string,
  attribute: string
): Promise<void> {
  await page.evaluate(
    ({ key, selector, attribute }) => {
      const seen: string[] = [];
      (window as any)[key] = seen;
      const note = () => {
        document.querySelectorAll(selector).forEach(element => {
          const value = element.getAttribute(attribute);
          if (value !== null && seen[seen.length - 1] !== value) {
            seen.push(value);
          }
        });
      };
      new MutationObserver(note).observe(document.body, {
        subtree: true,
        childList: true,
        attributes: true
      });
    },
    { key, selector, attribute }
  );
}

/**
 * The values recorded by `recordAttribute`.
 */
export async function seenValues(
  page: IJupyterLabPageFixture,
  key: string
): Promise<string[]> {
  return page.evaluate(key => (window as any)[key] as string[], key);
}

/**
 * A JupyterLab server of its own for a spec (a configuration of ui-tests/ on another port),
 * started when the spec needs it, so that what it sets up starts with the test.
 */
export class TestServer {
  /**
   * @param config The configuration file, in ui-tests/
   * @param port Its port
   */
  constructor(
    readonly config: string,
    readonly port: number
  ) {}

  /**
   * The server's base URL.
   */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Start the server and wait until the extension answers.
   */
  async start(): Promise<void> {
    // A server already on the port would answer in place of ours: refuse rather than test it.
    const found = await fetch(`${this.url}/api`).catch(() => null);
    if (found) {
      throw new Error(
        `port ${this.port} is taken (answered ${found.status}); stop what runs there`
      );
    }
    this._process = spawn('jupyter', ['lab', '--config', this.config], {
      cwd: path.resolve(__dirname, '..'),
      stdio: 'ignore',
      detached: true
    });
    const deadline = Date.now() + 60000;
    for (;;) {
      try {
        const response = await fetch(`${this.url}/jupyter-modelarts/lease`);
        if (response.ok) {
          return;
        }
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        throw new Error(`the server of ${this.config} did not start`);
      }
      await new Promise(resolve => setTimeout(resolve, 250));
    }
  }

  /**
   * Stop the server and what it started.
   */
  stop(): void {
    if (this._process?.pid) {
      try {
        process.kill(-this._process.pid, 'SIGTERM');
      } catch {
        // Already stopped (the auto-stop server stops itself).
      }
    }
  }

  private _process: ChildProcess | null = null;
}
