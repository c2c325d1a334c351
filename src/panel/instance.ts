import {
  countdownLevel,
  describeIdle,
  formatRemaining
} from '../api/countdown';
import { CommandIDs } from '../commandids';
import { formatTime, h, iconButton } from '../ui/dom';
import { renewIcon } from '../ui/icons';
import { FormBody, showForm } from './forms';
import { IPanelContext, PartWidget, RENEW_HOURS } from './section';

/**
 * The instance: name and status, flavor and resources on a second line, the rest in its
 * tooltip.
 */
export class InstancePart extends PartWidget {
  constructor(context: IPanelContext) {
    super(context, 'instance');
    this.addClass('jp-ModelArts-instance');
    this._main = h('div', { class: 'jp-ModelArts-instanceBody' });
    this.node.append(this._main, this.errorNode);
  }

  update(): void {
    const { model, trans } = this.context;
    const failed = this.showError();
    const instance = model.instance;
    if (!instance) {
      this._main.replaceChildren(
        failed
          ? ''
          : h('span', { class: 'jp-ModelArts-info' }, trans.__('Loading…'))
      );
      return;
    }
    const { flavor } = instance;
    const resources = [
      trans.__(
        '%1 CPU, %2 GiB',
        flavor.cpu_count,
        (flavor.memory_mb / 1024).toFixed(1)
      ),
      flavor.gpu_count > 0
        ? `${flavor.gpu_count} × ${flavor.gpu_name ?? flavor.type}`
        : ''
    ]
      .filter(Boolean)
      .join(' · ');
    this.node.title = [
      trans.__('Instance: %1 (%2)', instance.name, instance.id),
      trans.__('Backend: %1', instance.backend),
      trans.__('Flavor: %1', flavor.name),
      trans.__('Resources: %1', resources),
      instance.image ? trans.__('Image: %1', instance.image) : ''
    ]
      .filter(Boolean)
      .join('\n');
    this._main.replaceChildren(
      h(
        'div',
        { class: 'jp-ModelArts-itemLine' },
        h('span', { class: 'jp-ModelArts-backend' }, instance.backend),
        h('span', { class: 'jp-ModelArts-instanceName' }, instance.name),
        h(
          'span',
          { class: 'jp-ModelArts-badge', 'data-status': instance.status },
          instance.status
        )
      ),
      h(
        'div',
        { class: 'jp-ModelArts-sub jp-ModelArts-oneLine' },
        `${flavor.name} · ${resources}`
      )
    );
  }

  private _main: HTMLElement;
}

/**
 * The auto-stop lease: the time left (the model's one countdown, with the user's
 * thresholds), the stop time, and renew.
 */
export class LeasePart extends PartWidget {
  constructor(context: IPanelContext) {
    super(context, 'lease');
    this.addClass('jp-ModelArts-lease');
    const { trans } = context;
    this._clock = h('span', {
      class: 'jp-ModelArts-countdown',
      role: 'timer',
      'aria-live': 'off',
      title: trans.__('Time left before the instance stops')
    });
    this._line = h('div', { class: 'jp-ModelArts-sub jp-ModelArts-stopAt' });
    this._renew = iconButton(
      renewIcon,
      trans.__('Renew'),
      () => void context.commands.execute(CommandIDs.renew),
      { class: 'jp-ModelArts-renew', title: trans.__('Renew auto-stop…') },
      true
    );
    this.node.append(
      h('div', { class: 'jp-ModelArts-leaseLine' }, this._clock, this._renew),
      this._line,
      this.errorNode
    );
    context.model.tick.connect(() => {
      if (this.isVisible) {
        this._draw();
      }
    }, this);
  }

  update(): void {
    this.showError();
    this._draw();
  }

  private _draw(): void {
    const { model, trans } = this.context;
    const { countdown } = model;
    const remaining = countdown.remaining();
    this._clock.dataset.level = countdownLevel(
      remaining,
      this.context.thresholds()
    );
    this._renew.disabled = !countdown.enabled;
    this.node.dataset.kind = countdown.kind ?? 'off';
    const idle = describeIdle(countdown, trans);
    if (idle !== null) {
      this._clock.textContent =
        remaining === null ? '' : formatRemaining(remaining);
      this._line.textContent = idle;
      return;
    }
    if (remaining === null) {
      this._clock.textContent = '';
      this._line.textContent = model.lease
        ? trans.__('Auto-stop is off')
        : model.error('lease')
          ? ''
          : trans.__('Loading…');
      return;
    }
    this._clock.textContent = formatRemaining(remaining);
    this._line.textContent = trans.__(
      'Auto-stop at %1',
      formatTime(countdown.stopAt)
    );
  }

  private _clock: HTMLElement;
  private _line: HTMLElement;
  private _renew: HTMLButtonElement;
}

/**
 * The form that renews the lease for a chosen length, counting from now.
 */
export class RenewForm extends FormBody {
  /**
   * Create the form.
   *
   * @param context What the panel's parts share
   */
  constructor(context: IPanelContext) {
    super(context.trans, 'jp-ModelArts-renewForm');
    const trans = this.trans;
    this._context = context;
    // The length of the last renewal is offered first.
    const last = Math.round((context.model.lease?.duration_s ?? 3600) / 3600);
    const hours = RENEW_HOURS.includes(last) ? last : 1;
    this._hours = h(
      'select',
      { class: 'jp-mod-styled jp-ModelArts-renewHours' },
      ...RENEW_HOURS.map(n =>
        h(
          'option',
          { value: n, selected: n === hours },
          trans._n('%1 hour', '%1 hours', n)
        )
      )
    );
    const { countdown } = context.model;
    const remaining = countdown.remaining();
    const kind = countdown.kind ?? 'TIMING';
    this._kind = h(
      'select',
      { class: 'jp-mod-styled jp-ModelArts-renewKind' },
      h(
        'option',
        { value: 'TIMING', selected: kind === 'TIMING' },
        trans.__('at a fixed time: this long from now')
      ),
      h(
        'option',
        { value: 'IDLE', selected: kind === 'IDLE' },
        trans.__(
          'when idle this long (no kernel, job, terminal or browser activity)'
        )
      )
    );
    this.node.append(
      h(
        'p',
        { class: 'jp-ModelArts-info' },
        describeIdle(countdown, trans) ??
          (remaining === null
            ? trans.__('Auto-stop is off.')
            : trans.__(
                'The instance stops in %1 (at %2). Renewing counts from now.',
                formatRemaining(remaining),
                formatTime(countdown.stopAt)
              ))
      ),
      this.addField('type', trans.__('Stop'), this._kind),
      this.addField('duration_s', trans.__('Stop in'), this._hours),
      this.message
    );
  }

  async send(): Promise<void> {
    await this._context.model.renew(
      Number(this._hours.value),
      this._kind.value as 'TIMING' | 'IDLE'
    );
  }

  protected problems(): Record<string, string> {
    return {};
  }

  private _context: IPanelContext;
  private _hours: HTMLSelectElement;
  private _kind: HTMLSelectElement;
}

/**
 * Open the renew dialog.
 *
 * @param context What the panel's parts share
 * @returns Whether the lease was renewed
 */
export function renewLease(context: IPanelContext): Promise<boolean> {
  const trans = context.trans;
  return showForm(
    new RenewForm(context),
    trans.__('Renew auto-stop'),
    trans.__('Renew')
  );
}
