import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { countdownLevel, formatRemaining } from '../api/countdown';
import { button, h } from '../ui/dom';
import { modelartsIcon } from '../ui/icons';
import { ImageSection } from './images';
import { JobsSection } from './jobs';
import { ModelArtsService } from '../api/service';
import { IPanelContext, RENEW_HOURS, Section } from './section';
import { StorageSection } from './storage';

/**
 * The DOM id of the sidebar panel.
 */
export const SIDEBAR_ID = 'jupyter-modelarts-sidebar';

/**
 * The instance: backend, id and name, flavor, status.
 */
class InstanceSection extends Section {
  constructor(context: IPanelContext) {
    super(context, 'instance', context.trans.__('Instance'));
  }

  update(): void {
    const { model } = this.context;
    const instance = model.instance;
    if (!instance) {
      const text = model.error ?? this.trans.__('Loading…');
      this.body.replaceChildren(
        h(
          'p',
          {
            class: model.error ? 'jp-ModelArts-error' : 'jp-ModelArts-info'
          },
          text
        )
      );
      return;
    }
    const { flavor } = instance;
    const rows: [string, string][] = [
      [this.trans.__('Backend'), instance.backend],
      [this.trans.__('Instance'), instance.name],
      [this.trans.__('Id'), instance.id],
      [this.trans.__('Status'), instance.status],
      [this.trans.__('Flavor'), flavor.name],
      [
        this.trans.__('Resources'),
        this.trans.__(
          '%1 CPU, %2 GiB memory',
          flavor.cpu_count,
          (flavor.memory_mb / 1024).toFixed(1)
        )
      ]
    ];
    if (flavor.gpu_count > 0) {
      rows.push([
        this.trans.__('GPU'),
        `${flavor.gpu_count} × ${flavor.gpu_name ?? flavor.type}`
      ]);
    }
    if (instance.image) {
      rows.push([this.trans.__('Image'), instance.image]);
    }
    const list = h('dl', { class: 'jp-ModelArts-instance' });
    for (const [label, value] of rows) {
      list.append(h('dt', {}, label), h('dd', {}, value));
    }
    if (model.error) {
      this.body.replaceChildren(
        list,
        h('p', { class: 'jp-ModelArts-error' }, model.error)
      );
    } else {
      this.body.replaceChildren(list);
    }
  }
}

/**
 * The auto-stop countdown and its renew control.
 */
class AutoStopSection extends Section {
  constructor(context: IPanelContext) {
    super(context, 'autostop', context.trans.__('Auto-stop'));
    const trans = this.trans;
    this._clock = h('div', {
      class: 'jp-ModelArts-countdown',
      role: 'timer',
      'aria-live': 'off'
    });
    this._hours = h(
      'select',
      {
        class: 'jp-mod-styled jp-ModelArts-renewHours',
        'aria-label': trans.__('Lease length')
      },
      ...RENEW_HOURS.map(hours =>
        h('option', { value: hours }, trans._n('%1 hour', '%1 hours', hours))
      )
    );
    this._message = h('div', {
      class: 'jp-ModelArts-fieldMessage',
      'aria-live': 'polite'
    });
    this._renew = button(
      trans.__('Renew'),
      () => void this._doRenew(),
      'accept',
      { class: 'jp-Button jp-mod-styled jp-mod-accept jp-ModelArts-renew' }
    );
    this._controls = h(
      'div',
      { class: 'jp-ModelArts-row' },
      this._hours,
      this._renew
    );
    this.body.append(this._clock, this._controls, this._message);
  }

  update(): void {
    const { countdown } = this.context.model;
    const remaining = countdown.remaining();
    const level = countdownLevel(remaining, this.context.thresholds());
    this._clock.dataset.level = level;
    if (remaining === null) {
      this._clock.textContent = this.context.model.ready
        ? this.trans.__('Auto-stop is off')
        : this.trans.__('Loading…');
      this._controls.hidden = true;
    } else {
      this._clock.textContent = formatRemaining(remaining);
      this._clock.title = this.trans.__(
        'Stops at %1',
        new Date(countdown.stopAt!).toLocaleTimeString()
      );
      this._controls.hidden = false;
    }
  }

  private async _doRenew(): Promise<void> {
    const hours = Number(this._hours.value);
    this._renew.disabled = true;
    this._message.textContent = '';
    try {
      await this.context.model.renew(hours);
      this.update();
    } catch (error) {
      this._message.textContent = ModelArtsService.errorMessage(error);
    } finally {
      this._renew.disabled = false;
    }
  }

  private _clock: HTMLElement;
  private _controls: HTMLElement;
  private _hours: HTMLSelectElement;
  private _renew: HTMLButtonElement;
  private _message: HTMLElement;
}

/**
 * The left sidebar panel: instance, auto-stop, storage, image and training jobs, all fed by
 * the one shared model.
 */
export class ModelArtsSidebar extends Widget {
  /**
   * Create the sidebar panel.
   *
   * @param context What the sections share
   */
  constructor(context: IPanelContext) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-ModelArts-sidebar');
    this.title.icon = modelartsIcon;
    this.title.caption = context.trans.__('ModelArts');

    this.images = new ImageSection(context);
    this.jobs = new JobsSection(context);
    this._autostop = new AutoStopSection(context);
    this._sections = [
      new InstanceSection(context),
      this._autostop,
      new StorageSection(context),
      this.images,
      this.jobs
    ];
    this.node.append(
      h('h2', { class: 'jp-ModelArts-header' }, context.trans.__('ModelArts')),
      ...this._sections.map(s => s.node)
    );
    context.model.changed.connect(this._update, this);
    context.model.tick.connect(this._tick, this);
    this._update();
  }

  /**
   * The image section (the save-image command focuses its form).
   */
  readonly images: ImageSection;

  /**
   * The training jobs section.
   */
  readonly jobs: JobsSection;

  /**
   * Dispose of the panel and disconnect it from the model.
   */
  dispose(): void {
    Signal.disconnectReceiver(this);
    super.dispose();
  }

  private _update(): void {
    if (this.isVisible || !this._rendered) {
      this._rendered = true;
      for (const section of this._sections) {
        section.update();
      }
    } else {
      this._stale = true;
    }
  }

  protected onAfterShow(): void {
    if (this._stale) {
      this._stale = false;
      this._update();
    }
  }

  private _tick(): void {
    if (this.isVisible) {
      this._autostop.update();
    }
  }

  private _sections: Section[];
  private _autostop: AutoStopSection;
  private _rendered = false;
  private _stale = false;
}
