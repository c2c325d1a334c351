import { nullTranslator } from '@jupyterlab/translation';

import {
  Countdown,
  countdownLevel,
  describeIdle,
  formatRemaining
} from '../api/countdown';

describe('formatRemaining', () => {
  it('should format h:mm:ss', () => {
    expect(formatRemaining(((1 * 60 + 23) * 60 + 45) * 1000)).toBe('1:23:45');
    expect(formatRemaining(59 * 1000)).toBe('0:00:59');
    expect(formatRemaining(72 * 3600 * 1000)).toBe('72:00:00');
  });

  it('should round parts of a second up and clamp at zero', () => {
    expect(formatRemaining(100)).toBe('0:00:01');
    expect(formatRemaining(0)).toBe('0:00:00');
    expect(formatRemaining(-5000)).toBe('0:00:00');
  });
});

describe('countdownLevel', () => {
  it('should be off without a lease', () => {
    expect(countdownLevel(null)).toBe('off');
  });

  it('should turn amber under 10 minutes and red under 1', () => {
    expect(countdownLevel(3600 * 1000)).toBe('normal');
    expect(countdownLevel(10 * 60 * 1000)).toBe('normal');
    expect(countdownLevel(10 * 60 * 1000 - 1)).toBe('warning');
    expect(countdownLevel(60 * 1000)).toBe('warning');
    expect(countdownLevel(60 * 1000 - 1)).toBe('critical');
    expect(countdownLevel(0)).toBe('critical');
  });

  it('should follow other thresholds', () => {
    const t = { warningMinutes: 30, criticalMinutes: 5 };
    expect(countdownLevel(20 * 60 * 1000, t)).toBe('warning');
    expect(countdownLevel(4 * 60 * 1000, t)).toBe('critical');
  });
});

describe('Countdown', () => {
  const lease = (remaining: number | null, stopAt: number | null = null) => ({
    enabled: remaining !== null || stopAt !== null,
    type: 'TIMING' as const,
    duration_s: 3600,
    renewed_at: 0,
    stop_at: stopAt,
    remaining_s: remaining,
    idle_since: null,
    busy: null
  });

  it('should be disabled before a sync and without a lease', () => {
    const countdown = new Countdown();
    expect(countdown.enabled).toBe(false);
    expect(countdown.remaining()).toBeNull();
    countdown.sync(null);
    expect(countdown.remaining()).toBeNull();
    countdown.sync({
      enabled: false,
      type: 'TIMING',
      duration_s: null,
      renewed_at: null,
      stop_at: null,
      remaining_s: null,
      idle_since: null,
      busy: null
    });
    expect(countdown.enabled).toBe(false);
  });

  it('should tick on the local clock from the remaining seconds', () => {
    const countdown = new Countdown();
    countdown.sync(lease(600), 1000000);
    expect(countdown.stopAt).toBe(1600000);
    expect(countdown.remaining(1000000)).toBe(600000);
    expect(countdown.remaining(1000000 + 5000)).toBe(595000);
    expect(countdown.remaining(5000000)).toBe(0);
  });

  it('should ignore a skewed server clock (stop_at) when remaining_s is given', () => {
    const countdown = new Countdown();
    // The server's clock is an hour ahead: stop_at is meaningless locally.
    countdown.sync(lease(600, 1000000 + 3600000 + 600000), 1000000);
    expect(countdown.remaining(1000000)).toBe(600000);
  });

  it('should resync: a renewal or drift replaces the local estimate', () => {
    const countdown = new Countdown();
    countdown.sync(lease(600), 0);
    // 10 s later the local tick says 590 s; the server says 588 s (the tab slept).
    expect(countdown.remaining(10000)).toBe(590000);
    countdown.sync(lease(588), 10000);
    expect(countdown.remaining(10000)).toBe(588000);
    // A renewal to 4 hours.
    countdown.sync(lease(4 * 3600), 20000);
    expect(countdown.remaining(20000)).toBe(4 * 3600 * 1000);
    expect(countdown.lease?.remaining_s).toBe(4 * 3600);
  });

  it('should fall back to stop_at without remaining_s', () => {
    const countdown = new Countdown();
    countdown.sync(lease(null, 50000), 0);
    expect(countdown.remaining(20000)).toBe(30000);
  });
});

describe('an IDLE lease', () => {
  const trans = nullTranslator.load('jupyter_modelarts');
  const idle = (busy: string[] | null, idleSince: number | null) => ({
    enabled: true,
    type: 'IDLE' as const,
    duration_s: 3600,
    renewed_at: 0,
    stop_at: idleSince === null ? null : idleSince + 3600000,
    remaining_s:
      idleSince === null ? null : (idleSince + 3600000 - 1000000) / 1000,
    idle_since: idleSince,
    busy
  });

  it('should say how long it has been idle and when it would stop', () => {
    const countdown = new Countdown();
    countdown.sync(idle([], 1000000 - 12 * 60000), 1000000);
    expect(countdown.kind).toBe('IDLE');
    expect(countdown.remaining(1000000)).toBe(48 * 60000);
    const text = describeIdle(countdown, trans, 1000000);
    expect(text).toMatch(
      /^idle stop: after 1 h idle · idle 12 min · stops .+ if nothing happens$/
    );
  });

  it('should not count down while busy, nor where the stop is unknown', () => {
    const countdown = new Countdown();
    countdown.sync(idle(['kernel'], null), 1000000);
    expect(countdown.enabled).toBe(true);
    expect(countdown.remaining()).toBeNull();
    expect(describeIdle(countdown, trans)).toBe(
      'idle stop: after 1 h idle · busy (kernel running): will not stop'
    );
    countdown.sync(idle(null, null), 1000000);
    expect(describeIdle(countdown, trans)).toMatch(/the stop time is unknown$/);
  });
});
