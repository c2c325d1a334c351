import {
  assembleLines,
  firstLineStart,
  ILogLine,
  lineText,
  LogAssembler,
  renderLine
} from '../jobview/ansi';
import { scaleTop } from '../jobview/chart';
import { parseContentRange } from '../jobview/logsource';

const utf8 = (text: string) => new TextEncoder().encode(text);

function lines(text: string): ILogLine[] {
  const assembler = new LogAssembler();
  assembler.write(text);
  return assembler.take()!.lines;
}

const texts = (text: string) => lines(text).map(lineText);

describe('LogAssembler colours', () => {
  it('should turn SGR colours into Lab classes and reset them', () => {
    expect(lines('\x1b[31mred\x1b[0m plain')[0].spans).toEqual([
      { text: 'red', cls: 'ansi-red-fg' },
      { text: ' plain', cls: '' }
    ]);
  });

  it('should know bright, background and bold attributes', () => {
    const [line] = lines(
      '\x1b[92mg\x1b[44;37mw\x1b[1;31mb\x1b[22;39;49mn\x1b[4mu\x1b[m.'
    );
    expect(line.spans).toEqual([
      { text: 'g', cls: 'ansi-green-intense-fg' },
      { text: 'w', cls: 'ansi-white-fg ansi-blue-bg' },
      { text: 'b', cls: 'ansi-red-intense-fg ansi-blue-bg ansi-bold' },
      { text: 'n', cls: '' },
      { text: 'u', cls: 'ansi-underline' },
      { text: '.', cls: '' }
    ]);
  });

  it('should carry the style across lines and writes, and drop other sequences', () => {
    const assembler = new LogAssembler();
    assembler.write('\x1b[3');
    assembler.write('3my\x1b]0;title\x07\x1b[2J');
    assembler.write('\nz\x1b[38;5;1mr\x1b[38;2;1;2;3mx');
    expect(assembler.take()!.lines.map(l => l.spans)).toEqual([
      [{ text: 'y', cls: 'ansi-yellow-fg' }],
      [
        { text: 'z', cls: 'ansi-yellow-fg' },
        { text: 'r', cls: 'ansi-red-fg' },
        { text: 'x', cls: '' }
      ]
    ]);
  });
});

describe('LogAssembler carriage returns', () => {
  it('should collapse a progress bar to its last state', () => {
    const bar = Array.from(
      { length: 100 },
      (_, i) => `\r${i + 1}%|${'#'.repeat(i / 10)}`
    ).join('');
    expect(texts(`start\n${bar}\ndone\n`)).toEqual([
      'start',
      '100%|#########',
      'done',
      ''
    ]);
  });

  it('should overwrite in place, erase with ESC[K and keep CRLF lines', () => {
    expect(texts('abcdef\rxy')).toEqual(['xycdef']);
    expect(texts('abcdef\rxy\x1b[K!')).toEqual(['xy!']);
    expect(texts('one\r\ntwo')).toEqual(['one', 'two']);
    expect(texts('abc\x1b[2Kd')).toEqual(['   d']);
  });

  it('should rewrite the line above on ESC[A (stacked tqdm bars)', () => {
    const text =
      'outer 0%\ninner 0%' +
      '\x1b[A\router 50%\n\rinner 50%' +
      '\x1b[A\router 100%\n\rinner 100%\n';
    expect(texts(text)).toEqual(['outer 100%', 'inner 100%', '']);
  });

  it('should report only the rows changed since the last take', () => {
    const assembler = new LogAssembler();
    assembler.write('a\nb\n10%');
    expect(assembler.take()!.from).toBe(0);
    expect(assembler.take()).toBeNull();
    assembler.write('\r20%');
    const update = assembler.take()!;
    expect(update.from).toBe(2);
    expect(update.lines.map(lineText)).toEqual(['20%']);
    assembler.write('\nc');
    expect(assembler.take()!.lines.map(lineText)).toEqual(['20%', 'c']);
  });
});

describe('LogAssembler bytes', () => {
  it('should decode UTF-8 split across chunks', () => {
    const bytes = utf8('héllo €uro\nnext ✓\n');
    const assembler = new LogAssembler(0);
    for (let i = 0; i < bytes.length; i++) {
      assembler.push(bytes.subarray(i, i + 1));
    }
    expect(assembler.take()!.lines.map(lineText)).toEqual([
      'héllo €uro',
      'next ✓',
      ''
    ]);
  });

  it('should know the byte offset each line starts at', () => {
    const assembler = new LogAssembler(100);
    assembler.push(utf8('é\nab\n'));
    assembler.push(utf8('c'));
    expect(assembler.take()!.lines.map(l => l.start)).toEqual([100, 103, 106]);
    expect(assembler.offset).toBe(107);
  });
});

describe('reading backwards', () => {
  it('should drop the partial first line of a stretch', () => {
    const log = utf8('line 1\nline 2\nline 3\n');
    // A stretch from the middle of "line 1".
    const stretch = log.subarray(3);
    const cut = firstLineStart(stretch, 3);
    expect(cut).toBe(4);
    expect(
      assembleLines(stretch.subarray(cut), 3 + cut).map(l => [
        lineText(l),
        l.start
      ])
    ).toEqual([
      ['line 2', 7],
      ['line 3', 14]
    ]);
  });

  it('should keep everything from the log start', () => {
    expect(firstLineStart(utf8('abc\n'), 0)).toBe(0);
  });

  it('should start a stretch without newline at its last carriage return', () => {
    expect(firstLineStart(utf8('10%\r20%\r30%'), 50)).toBe(7);
  });

  it('should not start inside a character', () => {
    const bytes = utf8('€€').subarray(1);
    const cut = firstLineStart(bytes, 1);
    expect(cut).toBe(2);
    expect(assembleLines(bytes.subarray(cut), 3).map(lineText)).toEqual(['€']);
  });

  it('should assemble stretches that join into the whole log', () => {
    const log = utf8(
      Array.from(
        { length: 50 },
        (_, i) => `ligne ${i} é\x1b[1m✓\x1b[0m\n`
      ).join('')
    );
    // Read backwards 37 bytes at a time, as the view does (one byte more each).
    const seen: string[] = [];
    let first = log.length;
    while (first > 0) {
      const from = Math.max(0, first - 37 - 1);
      const stretch = log.subarray(from, first);
      const cut = firstLineStart(stretch, from);
      seen.unshift(
        ...assembleLines(stretch.subarray(cut), from + cut).map(lineText)
      );
      first = from + cut;
    }
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => `ligne ${i} é✓`));
  });
});

describe('parseContentRange', () => {
  it('should read ranges and unsatisfied ranges', () => {
    expect(parseContentRange('bytes 10-19/100')).toEqual({
      start: 10,
      size: 100
    });
    expect(parseContentRange('bytes */42')).toEqual({ start: 42, size: 42 });
    expect(parseContentRange(null)).toBeNull();
    expect(parseContentRange('items 1-2/3')).toBeNull();
  });
});

describe('renderLine', () => {
  it('should draw classes, the newline and search marks across colours', () => {
    const [line] = lines('a \x1b[31mred\x1b[0mdy red');
    const el = renderLine(line, true, /redd|red/gi);
    expect(el.textContent).toBe('a reddy red\n');
    expect(el.querySelector('.ansi-red-fg')!.textContent).toBe('red');
    const marks = Array.from(el.querySelectorAll('mark'));
    expect(marks.map(m => [m.className, m.textContent])).toEqual([
      ['jp-ModelArts-match', 'red'],
      ['jp-ModelArts-matchMore', 'd'],
      ['jp-ModelArts-match', 'red']
    ]);
  });
});

describe('scaleTop', () => {
  it('should scale percentages to 100 and other values to a round top', () => {
    expect(scaleTop(12, '%')).toBe(100);
    expect(scaleTop(130, '%')).toBe(200);
    expect(scaleTop(0.3, 'GB')).toBe(0.5);
    expect(scaleTop(0, 'GB')).toBe(1);
  });
});
