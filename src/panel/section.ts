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
 * A widget showing one part of the model, with the part's error inline and a retry. It
 * redraws when its part changes, and only while it is visible (else once shown again).
 */
export abstract class PartWidget extends Widget {
  /**
   * Create the widget.
   *
   * @param context What the panel's parts share
   * @param part The part of the model it shows
   * @param options The widget's options (its node)
   */
  constructor(
    context: IPanelContext,
    part: ModelPart,
    options?: Widget.IOptions
  ) {
    super(options);
    this.context = context;
    this.part = part;
    this.errorNode = h('div', {
      class: 'jp-ModelArts-error jp-ModelArts-sectionError',
      role: 'alert',
      hidden: true
    });
    context.model.partChanged.connect((_, changed) => {
      if (changed === part) {
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
   * Show the part's error, if any.
   *
   * @returns Whether there is an error
   */
  showError(): boolean {
    return showPartError(this.errorNode, this.context, this.part);
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

  readonly errorNode: HTMLElement;
  protected readonly context: IPanelContext;
  protected readonly part: ModelPart;
  private _stale = true;
}

/**
 * The content of a section: its error and body, redrawn by the section.
 */
class SectionContent extends PartWidget {
  constructor(section: Section, context: IPanelContext, part: ModelPart) {
    super(context, part, {
      node: h('div', { class: 'jp-ModelArts-sectionContent' })
    });
    this._section = section;
    this.body = h('div', { class: 'jp-ModelArts-sectionBody' });
    this.node.append(this.errorNode, this.body);
  }

  update(): void {
    this._section.update();
  }

  readonly body: HTMLElement;
  private _section: Section;
}

/**
 * A folding section showing one part of the model: its body, and the part's error inline
 * with a retry. It redraws when its part changes, and only while it is visible.
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
    this._content = new SectionContent(this, context, part);
    this.body = this._content.body;
    this.addWidget(this._content);
  }

  /**
   * Show the model's state now.
   */
  abstract update(): void;

  /**
   * Redraw now if visible, else once shown again.
   */
  schedule(): void {
    this._content.schedule();
  }

  /**
   * Show the part's error, if any.
   *
   * @returns Whether there is an error
   */
  protected showError(): boolean {
    return this._content.showError();
  }

  protected readonly body: HTMLElement;
  protected readonly context: IPanelContext;
  protected readonly trans: TranslationBundle;
  private _content: SectionContent;
}
