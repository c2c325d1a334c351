import { TranslationBundle } from '@jupyterlab/translation';

import { displayLocale } from '../ui/dom';
import { ILease } from './tokens';

/**
 * How urgent the auto-stop is: no lease, plenty of time, under the warning threshold, or
 * under the critical one.
 */
export type CountdownLevel = 'off' | 'normal' | 'warning' | 'critical';

/**
 * Format a duration as `h:mm:ss` (hours are not wrapped at 24).
 *
 * @param ms Milliseconds; negative counts as zero, parts of a second are rounded up so that
 *   `0:00:00` shows only once the time is really up
 * @returns The text, for example `1:23:45`
 */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${hours}:${pad(minutes)}:${pad(seconds)}`;
}

/**
 * The urgency of a remaining time.
 *
 * @param remainingMs Milliseconds left, or null without a lease
 * @param thresholds Minutes under which it is a warning and critical
 * @returns The level
 */
export function countdownLevel(
  remainingMs: number | null,
  thresholds: Countdown.IThresholds = Countdown.DEFAULT_THRESHOLDS
): CountdownLevel {
  if (remainingMs === null) {
    return 'off';
  }
  if (remainingMs < thresholds.criticalMinutes * 60000) {
    return 'critical';
  }
  if (remainingMs < thresholds.warningMinutes * 60000) {
    return 'warning';
  }
  return 'normal';
}

/**
 * A local auto-stop countdown that ticks on the browser's clock and is resynchronised with
 * each lease the server reports.
 *
 * The stop time is kept on the local clock (now + `remaining_s` at the time of the answer),
 * so a skew between the browser's and the server's clocks does not shift the countdown.
 */
export class Countdown {
  /**
   * Take the lease the server reported.
   *
   * @param lease The lease, or null when the backend has none
   * @param now The local time the answer arrived, epoch ms
   */
  sync(lease: ILease | null, now: number = Date.now()): void {
    this._lease = lease;
    this._idleSince = null;
    if (!lease || !lease.enabled) {
      this._stopAt = null;
      return;
    }
    if (typeof lease.remaining_s === 'number') {
      this._stopAt = now + lease.remaining_s * 1000;
    } else if (typeof lease.stop_at === 'number') {
      this._stopAt = lease.stop_at;
    } else {
      this._stopAt = null;
    }
    if (typeof lease.idle_since === 'number') {
      // On the local clock too: the server's stop_at and idle_since share its clock.
      const skew =
        this._stopAt !== null && typeof lease.stop_at === 'number'
          ? this._stopAt - lease.stop_at
          : 0;
      this._idleSince = lease.idle_since + skew;
    }
  }

  /**
   * The kind of lease: a fixed time (TIMING) or a stop after a period idle (IDLE); null
   * without a lease.
   */
  get kind(): 'TIMING' | 'IDLE' | null {
    return this._lease?.enabled ? this._lease.type : null;
  }

  /**
   * IDLE: what keeps the instance from being idle (empty when idle); null for TIMING or
   * where the backend cannot know (ModelArts measures idleness itself).
   */
  get busy(): string[] | null {
    return this._lease?.enabled ? (this._lease.busy ?? null) : null;
  }

  /**
   * IDLE: since when the instance is idle, on the local clock (epoch ms), or null.
   */
  get idleSince(): number | null {
    return this._idleSince;
  }

  /**
   * The last lease the server reported.
   */
  get lease(): ILease | null {
    return this._lease;
  }

  /**
   * Whether there is a running lease (an IDLE one may have no stop time: busy, or unknown).
   */
  get enabled(): boolean {
    return this._lease?.enabled === true;
  }

  /**
   * When the instance stops, on the local clock (epoch ms), or null without a lease.
   */
  get stopAt(): number | null {
    return this._stopAt;
  }

  /**
   * Milliseconds left, never negative, or null without a lease.
   *
   * @param now The local time, epoch ms
   * @returns The remaining time
   */
  remaining(now: number = Date.now()): number | null {
    return this._stopAt === null ? null : Math.max(0, this._stopAt - now);
  }

  /**
   * The user's thresholds (the settings), shared by every view of the countdown.
   */
  thresholds: Countdown.IThresholds = { ...Countdown.DEFAULT_THRESHOLDS };

  /**
   * The urgency now, with the user's thresholds.
   *
   * @param now The local time, epoch ms
   * @returns The level
   */
  level(now: number = Date.now()): CountdownLevel {
    return countdownLevel(this.remaining(now), this.thresholds);
  }

  private _lease: ILease | null = null;
  private _stopAt: number | null = null;
  private _idleSince: number | null = null;
}

/**
 * Minutes as the lease reads them: `45 min`, `1 h`, `1 h 30 min`.
 *
 * @param ms Milliseconds
 * @returns The text
 */
export function formatSpan(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) {
    return `${m} min`;
  }
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

/**
 * What a lease does, in a sentence: the kind, and when it would stop.
 *
 * @param countdown The countdown
 * @param trans The translation bundle
 * @param now The local time, epoch ms
 * @returns The text, for example `idle stop: after 1 h idle · idle 12 min · stops 15:40 if
 *   nothing happens`, or null for a TIMING lease or none (their views say it already)
 */
export function describeIdle(
  countdown: Countdown,
  trans: TranslationBundle,
  now: number = Date.now()
): string | null {
  const lease = countdown.lease;
  if (countdown.kind !== 'IDLE' || !lease) {
    return null;
  }
  const period = trans.__(
    'idle stop: after %1 idle',
    formatSpan((lease.duration_s ?? 0) * 1000)
  );
  const busy = countdown.busy;
  if (busy === null) {
    return trans.__(
      '%1 · ModelArts measures idleness (CPU, GPU, network) itself: the stop time is unknown',
      period
    );
  }
  if (busy.length > 0) {
    return trans.__(
      '%1 · busy (%2): will not stop',
      period,
      busy.map(reason => busyLabel(reason, trans)).join(', ')
    );
  }
  const idle = countdown.idleSince === null ? 0 : now - countdown.idleSince;
  const at =
    countdown.stopAt === null
      ? ''
      : new Date(countdown.stopAt).toLocaleTimeString(displayLocale(), {
          hour: '2-digit',
          minute: '2-digit'
        });
  return trans.__(
    '%1 · idle %2 · stops %3 if nothing happens',
    period,
    formatSpan(idle),
    at
  );
}

/**
 * A reason the instance is busy, in words.
 *
 * @param reason As the server says it: kernel, terminal, job
 * @param trans The translation bundle
 * @returns The words
 */
export function busyLabel(reason: string, trans: TranslationBundle): string {
  switch (reason) {
    case 'kernel':
      return trans.__('kernel running');
    case 'terminal':
      return trans.__('terminal in use');
    case 'job':
      return trans.__('job running');
    default:
      return reason;
  }
}

/**
 * A namespace for Countdown statics.
 */
export namespace Countdown {
  /**
   * Minutes under which the countdown warns.
   */
  export interface IThresholds {
    /** Amber, and the first notification (10 by default). */
    warningMinutes: number;
    /** Red, the last notification and the save of open documents (1 by default). */
    criticalMinutes: number;
  }

  /**
   * The default thresholds: 10 and 1 minutes.
   */
  export const DEFAULT_THRESHOLDS: IThresholds = {
    warningMinutes: 10,
    criticalMinutes: 1
  };
}
