import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

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
