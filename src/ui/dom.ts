/// <reference lib="es2020.intl" />
import type { LabIcon } from '@jupyterlab/ui-components';

/**
 * Attributes and handlers of an element made by `h`.
 */
export type Attributes = {
  [name: string]:
    string | number | boolean | null | undefined | ((event: any) => void);
};

/**
 * Make a DOM element: a tiny stand-in for JSX that keeps the bundle free of a UI framework.
 *
 * @param tag The tag name
 * @param attrs Attributes; `on<event>` keys add listeners, `class` sets the class name,
 *   booleans add or leave out an attribute, null and undefined are skipped
 * @param children Text or elements to append
 * @returns The element
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attributes = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'class') {
      element.className = String(value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      element.append(child);
    }
  }
  return element;
}

let locale: string | undefined;

/**
 * Set the language times are written in: JupyterLab's (the browser's until set).
 *
 * @param code A language code such as `en` or `zh-CN`
 */
export function setDisplayLocale(code: string | null): void {
  locale = code || undefined;
}

/**
 * The language times are written in (undefined: the browser's).
 *
 * @returns The language code
 */
export function displayLocale(): string | undefined {
  return locale;
}

/**
 * Format an epoch-ms time as a short local date and time.
 *
 * @param ms Epoch ms, or null
 * @returns The text, or an empty string
 */
export function formatTime(ms: number | null): string {
  if (!ms) {
    return '';
  }
  const date = new Date(ms);
  const sameDay = new Date().toDateString() === date.toDateString();
  return sameDay
    ? date.toLocaleTimeString(locale)
    : date.toLocaleString(locale, {
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit'
      });
}

/**
 * Format a duration given in milliseconds as `1h 02m`, `3m 04s` or `5s`.
 *
 * @param ms The duration
 * @returns The text
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  }
  if (s >= 60) {
    return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  }
  return `${s}s`;
}

/**
 * Format a byte count as B, KiB, MiB or GiB.
 *
 * @param bytes The count
 * @returns The text
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * Make a form field: a label, the control, and a message line for its error (`aria-live`).
 *
 * @param label The label text
 * @param control The input, select or textarea
 * @returns The field and its message element
 */
export function field(
  label: string,
  control: HTMLElement
): { row: HTMLElement; message: HTMLElement } {
  const message = h('div', {
    class: 'jp-ModelArts-fieldMessage',
    'aria-live': 'polite'
  });
  if (!control.id) {
    control.id = `jp-ModelArts-field-${++fieldCount}`;
  }
  message.id = `${control.id}-message`;
  control.setAttribute('aria-describedby', message.id);
  const row = h(
    'div',
    { class: 'jp-ModelArts-field' },
    h('label', { for: control.id }, label),
    control,
    message
  );
  return { row, message };
}

let fieldCount = 0;

/**
 * Show a message under a field and mark the control invalid (or clear both).
 *
 * @param control The control
 * @param message Its message element
 * @param text The error, or null when the value is fine
 */
export function setFieldError(
  control: HTMLElement,
  message: HTMLElement,
  text: string | null
): void {
  message.textContent = text ?? '';
  control.classList.toggle('jp-mod-invalid', !!text);
  if (text) {
    control.setAttribute('aria-invalid', 'true');
  } else {
    control.removeAttribute('aria-invalid');
  }
}

/**
 * Make a JupyterLab-styled button.
 *
 * @param label The text
 * @param onClick What it does
 * @param kind `accept`, `warn` or a plain button
 * @param attrs More attributes
 * @returns The button
 */
export function button(
  label: string,
  onClick: (event: MouseEvent) => void,
  kind: 'accept' | 'warn' | 'plain' = 'plain',
  attrs: Attributes = {}
): HTMLButtonElement {
  const modifier =
    kind === 'accept'
      ? ' jp-mod-accept'
      : kind === 'warn'
        ? ' jp-mod-warn'
        : ' jp-mod-reject';
  return h(
    'button',
    {
      type: 'button',
      class: `jp-Button jp-mod-styled jp-ModelArts-button${modifier}`,
      onclick: onClick,
      ...attrs
    },
    label
  );
}

/**
 * Format how long ago an epoch-ms time was, in the browser's language: `now`, `3 min. ago`,
 * `2 hr. ago`, `5 days ago`.
 *
 * @param ms Epoch ms
 * @param now The time to count from, epoch ms
 * @param language The language; JupyterLab's (see setDisplayLocale) by default
 * @returns The text
 */
export function formatAgo(
  ms: number,
  now: number = Date.now(),
  language: string | undefined = locale
): string {
  const seconds = Math.round((ms - now) / 1000);
  const format = new Intl.RelativeTimeFormat(language, {
    numeric: 'auto',
    style: 'short'
  });
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ['second', 60],
    ['minute', 60],
    ['hour', 24],
    ['day', 30],
    ['month', 12]
  ];
  let value = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size) {
      // Under 10 s "now" reads better than a count that changes every second.
      return unit === 'second' && Math.abs(value) < 10
        ? format.format(0, 'second')
        : format.format(value, unit);
    }
    value = Math.round(value / size);
  }
  return format.format(value, 'year');
}

/**
 * Make an icon button with the markup and classes of JupyterLab's toolbar buttons, so that it
 * looks like one in both themes (disabled included) without a React render.
 *
 * @param icon The icon
 * @param label What it does: the tooltip and accessible name, and the text when `showLabel`
 * @param onClick What it does, or null when a listener of an ancestor handles it
 * @param attrs More attributes (`class` is added to the toolbar classes)
 * @param showLabel Whether the label shows next to the icon
 * @returns The button
 */
export function iconButton(
  icon: LabIcon,
  label: string,
  onClick: ((event: MouseEvent) => void) | null,
  attrs: Attributes = {},
  showLabel = false
): HTMLButtonElement {
  const { class: extra, ...rest } = attrs;
  return h(
    'button',
    {
      type: 'button',
      class: `jp-ToolbarButtonComponent jp-mod-minimal jp-Button jp-ModelArts-iconButton ${extra ?? ''}`,
      title: label,
      'aria-label': label,
      onclick: onClick,
      ...rest
    },
    icon.element({
      tag: 'span',
      className: 'jp-ToolbarButtonComponent-icon',
      stylesheet: 'toolbarButton'
    }),
    showLabel
      ? h('span', { class: 'jp-ToolbarButtonComponent-label' }, label)
      : null
  );
}
