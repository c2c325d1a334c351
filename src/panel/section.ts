import { TranslationBundle } from '@jupyterlab/translation';

import { h } from '../ui/dom';
import { ModelArtsModel } from '../api/model';

/**
 * Lease lengths offered by the renew controls, in hours.
 */
export const RENEW_HOURS = [1, 2, 4, 8, 12, 24, 48, 72];

/**
 * What the sections of the panel share.
 */
export interface IPanelContext {
  /** The shared update stream. */
  model: ModelArtsModel;
  /** The translation bundle. */
  trans: TranslationBundle;
  /** Urgency thresholds of the countdown, in minutes. */
  thresholds: () => { warningMinutes: number; criticalMinutes: number };
  /** Open the view of a job. */
  openJob: (id: string) => void;
  /** The server path of the file selected in the file browser, if any. */
  scriptFromBrowser: () => string | null;
  /** The server path of the document in the current editor, if any. */
  scriptFromEditor: () => string | null;
}

/**
 * One collapsible section of the panel (a `<details>`, so it opens from the keyboard).
 */
export abstract class Section {
  /**
   * Create the section.
   *
   * @param context What the sections share
   * @param key The section's id suffix
   * @param title Its heading
   */
  constructor(context: IPanelContext, key: string, title: string) {
    this.context = context;
    this.trans = context.trans;
    this.body = h('div', { class: 'jp-ModelArts-sectionBody' });
    this.node = h(
      'details',
      {
        class: `jp-ModelArts-section jp-ModelArts-section-${key}`,
        open: true
      },
      h('summary', { class: 'jp-ModelArts-sectionTitle' }, title),
      this.body
    );
  }

  /**
   * Show the model's state.
   */
  abstract update(): void;

  /**
   * The section element.
   */
  readonly node: HTMLDetailsElement;

  protected readonly body: HTMLElement;
  protected readonly context: IPanelContext;
  protected readonly trans: TranslationBundle;
}
