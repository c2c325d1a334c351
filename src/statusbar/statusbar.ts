import { JupyterFrontEnd } from '@jupyterlab/application';
import { TranslationBundle } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { Menu, Widget } from '@lumino/widgets';

import { CommandIDs } from '../commandids';
import { describeIdle, formatRemaining } from '../api/countdown';
import { IModelArtsModel } from '../api/interfaces';
import { RENEW_HOURS } from '../panel/section';
import { displayLocale } from '../ui/dom';

/**
 * The status-bar countdown `⏻ 1:23:45`: ticks locally, resyncs with each answer of the
 * shared model, turns amber then red, and opens a renew menu when clicked.
 */
export class AutoStopStatus extends Widget {
  /**
   * Create the item.
   *
   * @param options The item options
   */
  constructor(options: AutoStopStatus.IOptions) {
    super();
    this._model = options.model;
    this._trans = options.trans;
    this.addClass('jp-ModelArts-status');
    this.node.tabIndex = 0;
    this.node.setAttribute('role', 'button');
    this.node.setAttribute('aria-haspopup', 'menu');
    this._menu = new Menu({ commands: options.commands });
    this._menu.addClass('jp-ModelArts-renewMenu');
    this._menu.title.label = this._trans.__('Renew auto-stop');
    for (const hours of RENEW_HOURS) {
      this._menu.addItem({ command: CommandIDs.renew, args: { hours } });
    }
    this.node.addEventListener('click', this);
    this.node.addEventListener('keydown', this);
    this._model.tick.connect(this._update, this);
    this._model.changed.connect(this._update, this);
    this._update();
  }

  /**
   * Handle clicks and Enter / Space.
   *
   * @param event The DOM event
   */
  handleEvent(event: Event): void {
    if (event.type === 'keydown') {
      const key = (event as KeyboardEvent).key;
      if (key !== 'Enter' && key !== ' ') {
        return;
      }
      event.preventDefault();
    }
    this.openMenu();
  }

  /**
   * Open the renew menu above the item.
   */
  openMenu(): void {
    if (!this._model.countdown.enabled) {
      return;
    }
    const rect = this.node.getBoundingClientRect();
    this._menu.open(rect.left, rect.top, { forceY: false });
    this._menu.activeIndex = 0;
  }

  /**
   * Dispose of the item and its menu.
   */
  dispose(): void {
    Signal.disconnectReceiver(this);
    this._menu.dispose();
    super.dispose();
  }

  private _update(): void {
    const { countdown } = this._model;
    const remaining = countdown.remaining();
    this.node.dataset.level = countdown.level();
    this.node.dataset.kind = countdown.kind ?? 'off';
    const idle = describeIdle(countdown, this._trans);
    if (idle !== null) {
      // IDLE: the time left only if nothing happens; busy or unknown, no countdown at all.
      const sign = document.createElement('span');
      sign.className = 'jp-ModelArts-powerSign';
      sign.textContent = '⏻';
      const busy = countdown.busy;
      const short =
        remaining !== null
          ? this._trans.__('idle %1', formatRemaining(remaining))
          : busy && busy.length > 0
            ? this._trans.__('busy')
            : this._trans.__('idle stop');
      this.node.replaceChildren(sign, ` ${short}`);
      this.node.title = `${idle}. ${this._trans.__('Click to renew.')}`;
      this.node.removeAttribute('aria-disabled');
    } else if (remaining === null) {
      this.node.replaceChildren(this._trans.__('auto-stop off'));
      this.node.title = this._trans.__('This instance does not stop by itself');
      this.node.setAttribute('aria-disabled', 'true');
    } else {
      // The power sign is drawn as SVG (many fonts lack U+23FB) but stays in the text.
      const sign = document.createElement('span');
      sign.className = 'jp-ModelArts-powerSign';
      sign.textContent = '⏻';
      this.node.replaceChildren(sign, ` ${formatRemaining(remaining)}`);
      this.node.title = this._trans.__(
        'Auto-stop in %1 (at %2). Click to renew.',
        formatRemaining(remaining),
        new Date(this._model.countdown.stopAt!).toLocaleTimeString(
          displayLocale()
        )
      );
      this.node.removeAttribute('aria-disabled');
    }
  }

  private _model: IModelArtsModel;
  private _trans: TranslationBundle;
  private _menu: Menu;
}

/**
 * A namespace for AutoStopStatus statics.
 */
export namespace AutoStopStatus {
  /**
   * The options used to create an AutoStopStatus.
   */
  export interface IOptions {
    /** The shared model. */
    model: IModelArtsModel;
    /** The translation bundle. */
    trans: TranslationBundle;
    /** The application's commands (the renew menu runs them). */
    commands: JupyterFrontEnd['commands'];
  }
}
