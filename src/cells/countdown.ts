import { DOMWidgetModel, DOMWidgetView } from '@jupyter-widgets/base';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Poll } from '@lumino/polling';

import { requestAPI } from '../api/request';
import { MODULE_NAME } from './module';

/**
 * Below this many milliseconds left, the countdown turns amber and warns.
 */
const WARNING_MS = 10 * 60 * 1000;

/**
 * How often each view re-reads the lease, so renewals made elsewhere show.
 */
const POLL_MS = 5000;

/**
 * Renewal lengths offered, in hours (the API takes 1 h to 72 h).
 */
const RENEW_HOURS = [1, 2, 4, 8, 12, 24, 48, 72];

/**
 * The auto-stop lease as the REST API answers it.
 */
interface ILease {
  enabled: boolean;
  stop_at: number | null;
}

/**
 * Format a duration as H:MM:SS.
 *
 * @param ms Milliseconds, clamped at zero
 * @returns The text
 */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${Math.floor(total / 3600)}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
}

/**
 * The model of `jupyter_modelarts.kernel.widgets.LeaseCountdown`.
 */
export class LeaseCountdownModel extends DOMWidgetModel {
  defaults() {
    return {
      ...super.defaults(),
      _model_name: 'LeaseCountdownModel',
      _view_name: 'LeaseCountdownView',
      _model_module: MODULE_NAME,
      _view_module: MODULE_NAME,
      enabled: false,
      stop_at: null
    };
  }
}

/**
 * Remaining time, re-rendered every second in the browser; the lease is re-read every few
 * seconds (so renewals made elsewhere show) and can be renewed from here.
 */
export class LeaseCountdownView extends DOMWidgetView {
  /**
   * Bind every countdown view to the page's server and translations (the plugin does it once).
   *
   * @param serverSettings The page's server settings (same origin, XSRF handled)
   * @param trans The translation bundle for UI strings
   */
  static configure(
    serverSettings: ServerConnection.ISettings,
    trans: TranslationBundle
  ): void {
    LeaseCountdownView._serverSettings = serverSettings;
    LeaseCountdownView._trans = trans;
  }

  render(): void {
    const trans = LeaseCountdownView._trans;
    this.el.classList.add('jp-ModelArts-leaseCountdown');
    this.el.style.cssText =
      'display:flex;flex-wrap:wrap;align-items:center;gap:8px;padding:4px 8px;' +
      'border-left:4px solid var(--jp-brand-color1)';
    this._remaining.className = 'jp-ModelArts-leaseCountdown-remaining';
    this._remaining.style.cssText =
      'font-family:var(--jp-code-font-family);font-size:120%';
    for (const hours of RENEW_HOURS) {
      const option = document.createElement('option');
      option.value = String(hours);
      option.textContent = trans.__('%1 h', hours);
      this._hours.appendChild(option);
    }
    this._hours.value = '4';
    this._hours.setAttribute('aria-label', trans.__('Renewal length'));
    this._renew.textContent = trans.__('Renew');
    this._renew.className = 'jp-ModelArts-leaseCountdown-renew';
    this._renew.onclick = () => void this._renewLease();
    this._warning.className = 'jp-ModelArts-leaseCountdown-warning';
    this._warning.style.flexBasis = '100%';
    this.el.append(this._remaining, this._hours, this._renew, this._warning);

    this.listenTo(this.model, 'change:enabled change:stop_at', this._tick);
    this._ticker = window.setInterval(() => this._tick(), 1000);
    this._poll = new Poll({
      factory: () => this._refresh(),
      frequency: { interval: POLL_MS, backoff: true, max: 60 * 1000 },
      name: 'jupyter-modelarts:lease-countdown'
    });
    void this._refresh();
    this._tick();
  }

  remove(): this {
    window.clearInterval(this._ticker);
    this._poll?.dispose();
    return super.remove();
  }

  private _tick(): void {
    const trans = LeaseCountdownView._trans;
    const enabled: boolean = this.model.get('enabled');
    const stopAt: number | null = this.model.get('stop_at');
    this._hours.disabled = this._renew.disabled = !enabled;
    if (!enabled || stopAt === null) {
      this._remaining.textContent = trans.__('Auto-stop is off');
      this._setWarning('');
      return;
    }
    const left = stopAt - Date.now();
    this._remaining.textContent = trans.__(
      'Stops in %1',
      formatRemaining(left)
    );
    this._remaining.title = new Date(stopAt).toLocaleString();
    if (left <= 0) {
      this._setWarning(trans.__('The instance is stopping.'));
    } else if (left < WARNING_MS) {
      this._setWarning(
        trans.__(
          'Less than 10 minutes left: renew to keep the instance running.'
        )
      );
    } else {
      this._setWarning('');
    }
  }

  private _setWarning(text: string): void {
    const warn = text !== '';
    this.el.classList.toggle('jp-mod-warning', warn);
    this.el.style.borderLeftColor = warn
      ? 'var(--jp-warn-color1)'
      : 'var(--jp-brand-color1)';
    this.el.style.background = warn ? 'var(--jp-warn-color3)' : '';
    this._warning.textContent = text;
    this._warning.hidden = !warn;
  }

  private async _refresh(): Promise<void> {
    const lease = await requestAPI<ILease>(
      'lease',
      LeaseCountdownView._serverSettings
    );
    this.model.set({ enabled: lease.enabled, stop_at: lease.stop_at });
  }

  private async _renewLease(): Promise<void> {
    this._renew.disabled = true;
    try {
      const lease = await requestAPI<ILease>(
        'lease',
        LeaseCountdownView._serverSettings,
        {
          method: 'PATCH',
          body: JSON.stringify({ duration_s: Number(this._hours.value) * 3600 })
        }
      );
      // Saved, so the kernel's widget knows the new stop time too.
      this.model.set({ enabled: lease.enabled, stop_at: lease.stop_at });
      this.touch();
    } catch (error) {
      this._setWarning(
        LeaseCountdownView._trans.__(
          'Renewal failed: %1',
          (error as Error).message
        )
      );
    } finally {
      this._renew.disabled = false;
    }
  }

  private static _serverSettings: ServerConnection.ISettings =
    ServerConnection.makeSettings();
  private static _trans: TranslationBundle =
    nullTranslator.load('jupyter_modelarts');

  private _remaining = document.createElement('span');
  private _hours = document.createElement('select');
  private _renew = document.createElement('button');
  private _warning = document.createElement('div');
  private _ticker = 0;
  private _poll: Poll | null = null;
}
