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
  }

  /**
   * The last lease the server reported.
   */
  get lease(): ILease | null {
    return this._lease;
  }

  /**
   * Whether there is a running lease.
   */
  get enabled(): boolean {
    return this._stopAt !== null;
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
