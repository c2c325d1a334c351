import { TranslationBundle } from '@jupyterlab/translation';
import {
  LabIcon,
  PanelWithToolbar,
  ToolbarButton
} from '@jupyterlab/ui-components';
import type { CommandRegistry } from '@lumino/commands';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { Countdown } from '../api/countdown';
import { IModelArtsModel, ModelPart } from '../api/interfaces';
import { h } from '../ui/dom';

/**
 * Lease lengths offered by the renew controls, in hours.
 */
export const RENEW_HOURS = [1, 2, 4, 8, 12, 24, 48, 72];

/**
 * What the sections of the panel share.
 */
export interface IPanelContext {
  /** The shared model. */
  model: IModelArtsModel;
  /** The translation bundle. */
  trans: TranslationBundle;
  /** The application's commands (toolbar buttons and row actions run them). */
  commands: CommandRegistry;
  /** Urgency thresholds of the countdown, in minutes (the user's settings). */
  thresholds: () => Countdown.IThresholds;
  /** Open the view of a job. */
  openJob: (id: string) => void;
  /** The server path of the file selected in the file browser, if any. */
  scriptFromBrowser: () => string | null;
  /** The server path of the document in the current editor, if any. */
  scriptFromEditor: () => string | null;
}

/**
 * Show a part's error inline, with a retry, or nothing when the part answered.
 *
 * @param node Where the error shows
 * @param context What the sections share
 * @param part The part of the model
 * @returns Whether there is an error
 */
export function showPartError(
  node: HTMLElement,
  context: IPanelContext,
  part: ModelPart
): boolean {
  const error = context.model.error(part);
  node.hidden = !error;
  if (!error) {
    node.replaceChildren();
    return false;
  }
  const { trans } = context;
  node.replaceChildren(
    h('span', { class: 'jp-ModelArts-errorText' }, error),
    h(
      'button',
      {
        type: 'button',
        class: 'jp-ModelArts-link jp-ModelArts-retry',
        onclick: () => void context.model.refresh().catch(() => undefined)
      },
      trans.__('Retry')
    )
  );
  return true;
}

/**
 * A folding part of the panel: a title whose bar carries LabIcon toolbar buttons (in the
 * accordion's title), and its widgets.
 */
export class FoldingPanel extends PanelWithToolbar {
  /**
   * Create the panel.
   *
   * @param key The id suffix
   * @param title Its title
   */
  constructor(key: string, title: string) {
    super();
    this.id = `jupyter-modelarts-section-${key}`;
    this.addClass('jp-ModelArts-section');
    this.addClass(`jp-ModelArts-section-${key}`);
    this.title.label = title;
    this.title.caption = title;
    // A click on a button of the title bar must not fold the section too.
    this.toolbar.node.addEventListener('click', event =>
      event.stopPropagation()
    );
  }

  /**
   * Add a LabIcon button to the title bar.
   *
   * @param name Its name in the toolbar (and its class, `jp-ModelArts-<name>`)
   * @param icon The icon
   * @param tooltip What it does
   * @param onClick What it does
   * @returns The button
   */
  protected addButton(
    name: string,
    icon: LabIcon,
    tooltip: string,
    onClick: () => void
  ): ToolbarButton {
    const button = new ToolbarButton({
      icon,
      tooltip,
      onClick,
      className: `jp-ModelArts-${name}`
    });
    this.toolbar.addItem(name, button);
    return button;
  }
}

/**
 * A section showing one part of the model: its body, and the part's error inline with a
 * retry. It redraws when its part changes, and only while it is visible.
 */
export abstract class Section extends FoldingPanel {
  /**
   * Create the section.
   *
   * @param context What the sections share
   * @param key The section's id suffix
   * @param title Its title
   * @param part The part of the model it shows
   */
  constructor(
    context: IPanelContext,
    key: string,
    title: string,
    part: ModelPart
  ) {
    super(key, title);
    this.context = context;
    this.trans = context.trans;
    this.part = part;
    this.errorNode = h('div', {
      class: 'jp-ModelArts-error jp-ModelArts-sectionError',
      role: 'alert',
      hidden: true
    });
    this.body = h('div', { class: 'jp-ModelArts-sectionBody' });
    this.addWidget(
      new Widget({
        node: h(
          'div',
          { class: 'jp-ModelArts-sectionContent' },
          this.errorNode,
          this.body
        )
      })
    );
    context.model.partChanged.connect((_, changed) => {
      if (changed === this.part) {
        this.schedule();
      }
    }, this);
  }

  /**
   * Show the model's state now.
   */
  abstract update(): void;

  /**
   * Redraw now if visible, else once shown again.
   */
  schedule(): void {
    if (this.isVisible) {
      this.update();
    } else {
      this._stale = true;
    }
  }

  /**
   * Disconnect from the model.
   */
  dispose(): void {
    Signal.disconnectReceiver(this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.schedule();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._stale) {
      this._stale = false;
      this.update();
    }
  }

  /**
   * Show the part's error, if any.
   *
   * @returns Whether there is an error
   */
  protected showError(): boolean {
    return showPartError(this.errorNode, this.context, this.part);
  }

  protected readonly body: HTMLElement;
  protected readonly errorNode: HTMLElement;
  protected readonly context: IPanelContext;
  protected readonly trans: TranslationBundle;
  protected readonly part: ModelPart;
  private _stale = true;
}
