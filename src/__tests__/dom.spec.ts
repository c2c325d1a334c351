import { formatAgo } from '../ui/dom';

describe('formatAgo', () => {
  const now = Date.UTC(2026, 0, 10, 12, 0, 0);
  const ago = (ms: number) => formatAgo(now - ms, now, 'en');

  it('should say now for the last few seconds', () => {
    expect(ago(0)).toBe('now');
    expect(ago(9000)).toBe('now');
  });

  it('should count in the largest unit that fits', () => {
    expect(ago(30 * 1000)).toBe('30 sec. ago');
    expect(ago(3 * 60 * 1000)).toBe('3 min. ago');
    expect(ago(2 * 3600 * 1000)).toBe('2 hr. ago');
    expect(ago(24 * 3600 * 1000)).toBe('yesterday');
    expect(ago(5 * 24 * 3600 * 1000)).toBe('5 days ago');
    expect(ago(400 * 24 * 3600 * 1000)).toBe('last yr.');
  });
});
