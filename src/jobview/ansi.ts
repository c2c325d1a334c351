/**
 * A run of text in one style.
 */
export interface ISpan {
  /** The text. */
  text: string;
  /** Lab's ANSI classes for it (`ansi-red-fg ansi-bold`), empty for plain text. */
  cls: string;
}

/**
 * One line of a log as it looks now (after carriage returns and cursor moves).
 */
export interface ILogLine {
  /** Its runs of text. */
  spans: ISpan[];
  /** The byte offset in the log where it begins, -1 when unknown. */
  start: number;
}

/**
 * The lines that changed since the last `take`.
 */
export interface ILogUpdate {
  /** The first changed row (rows count from the assembler's first line). */
  from: number;
  /** The rows from `from` to the last, as they look now; the last one may still grow. */
  lines: ILogLine[];
}

const COLORS = [
  'black',
  'red',
  'green',
  'yellow',
  'blue',
  'magenta',
  'cyan',
  'white'
];

/**
 * Rows above the cursor kept editable (`ESC[A` reaches no higher); tqdm's stacked bars need a
 * handful.
 */
const EDITABLE_ROWS = 200;

/**
 * An escape sequence cut by a chunk boundary waits for the next chunk, up to this length.
 */
const MAX_PENDING = 4096;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\n\r\b\x1b]/g;
const CSI = /([0-?]*)[ -/]*([@-~]?)/y;

/**
 * The text attributes set by SGR sequences (`ESC[...m`).
 */
class Style {
  fg = -1;
  bg = -1;
  bold = false;
  underline = false;
  inverse = false;

  /**
   * Lab's classes for the current attributes, as `@jupyterlab/rendermime` names them (bold
   * normal colours turn intense there too).
   */
  classes(): string {
    let fg = this.fg;
    let bg = this.bg;
    if (this.bold && fg >= 0 && fg < 8) {
      fg += 8;
    }
    if (this.inverse) {
      [fg, bg] = [bg, fg];
    }
    const out: string[] = [];
    if (fg >= 0) {
      out.push(colorClass(fg) + '-fg');
    } else if (this.inverse) {
      out.push('ansi-default-inverse-fg');
    }
    if (bg >= 0) {
      out.push(colorClass(bg) + '-bg');
    } else if (this.inverse) {
      out.push('ansi-default-inverse-bg');
    }
    if (this.bold) {
      out.push('ansi-bold');
    }
    if (this.underline) {
      out.push('ansi-underline');
    }
    return out.join(' ');
  }

  /**
   * Apply the parameters of one SGR sequence.
   */
  apply(params: string): void {
    const codes = params.split(/[;:]/).map(p => (p === '' ? 0 : Number(p)));
    for (let i = 0; i < codes.length; i++) {
      const n = codes[i];
      if (n === 0) {
        this.fg = this.bg = -1;
        this.bold = this.underline = this.inverse = false;
      } else if (n === 1) {
        this.bold = true;
      } else if (n === 22) {
        this.bold = false;
      } else if (n === 4) {
        this.underline = true;
      } else if (n === 24) {
        this.underline = false;
      } else if (n === 7) {
        this.inverse = true;
      } else if (n === 27) {
        this.inverse = false;
      } else if (n >= 30 && n <= 37) {
        this.fg = n - 30;
      } else if (n >= 90 && n <= 97) {
        this.fg = n - 90 + 8;
      } else if (n === 39) {
        this.fg = -1;
      } else if (n >= 40 && n <= 47) {
        this.bg = n - 40;
      } else if (n >= 100 && n <= 107) {
        this.bg = n - 100 + 8;
      } else if (n === 49) {
        this.bg = -1;
      } else if (n === 38 || n === 48) {
        // 256 colours: the 16 basic ones have classes; the others, and RGB, show plain.
        const mode = codes[i + 1];
        const color = mode === 5 && codes[i + 2] < 16 ? codes[i + 2] : -1;
        i += mode === 5 ? 2 : mode === 2 ? 4 : codes.length;
        if (n === 38) {
          this.fg = color;
        } else {
          this.bg = color;
        }
      } else if (!Number.isInteger(n)) {
        return;
      }
    }
  }
}

function colorClass(index: number): string {
  return `ansi-${COLORS[index % 8]}${index >= 8 ? '-intense' : ''}`;
}

function lineLength(spans: ISpan[]): number {
  let length = 0;
  for (const span of spans) {
    length += span.text.length;
  }
  return length;
}

function appendSpan(spans: ISpan[], text: string, cls: string): void {
  if (!text) {
    return;
  }
  const last = spans[spans.length - 1];
  if (last && last.cls === cls) {
    last.text += text;
  } else {
    spans.push({ text, cls });
  }
}

/**
 * The runs of text between two columns.
 */
function sliceSpans(spans: ISpan[], from: number, to: number): ISpan[] {
  const out: ISpan[] = [];
  let at = 0;
  for (const span of spans) {
    const end = at + span.text.length;
    if (end > from && at < to) {
      appendSpan(
        out,
        span.text.slice(Math.max(0, from - at), to - at),
        span.cls
      );
    }
    at = end;
  }
  return out;
}

/**
 * Turns the bytes of a log into lines the way a terminal shows them: ANSI colours become Lab's
 * classes, `\r` goes back to the start of the line (a progress bar rewrites itself), `ESC[K`
 * erases, `ESC[A` goes up a line (tqdm's stacked bars). Bytes are decoded as UTF-8 in stream
 * mode, so a character cut by a chunk boundary is whole, and so is an escape sequence.
 */
export class LogAssembler {
  /**
   * Create an assembler.
   *
   * @param offset The byte offset in the log of the first byte it will be given
   */
  constructor(offset = 0) {
    this._offset = offset;
    this._lines = [{ spans: [], start: offset }];
  }

  /**
   * The byte offset in the log after the last byte given.
   */
  get offset(): number {
    return this._offset;
  }

  /**
   * Add the next bytes of the log.
   *
   * @param bytes The bytes, following the ones given before
   */
  push(bytes: Uint8Array): void {
    // A newline byte is never part of a multi-byte character: the n-th `\n` decoded is the
    // n-th 0x0A, so each line knows where it starts in the log.
    for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) {
      this._starts.push(this._offset + i + 1);
    }
    this._offset += bytes.length;
    this.write(this._decoder.decode(bytes, { stream: true }));
  }

  /**
   * The log is complete: decode what is left.
   */
  end(): void {
    this.write(this._decoder.decode());
    this._pending = '';
  }

  /**
   * Add decoded text.
   *
   * @param text The text
   */
  write(text: string): void {
    if (this._pending) {
      text = this._pending + text;
      this._pending = '';
    }
    let i = 0;
    while (i < text.length) {
      CONTROL.lastIndex = i;
      const match = CONTROL.exec(text);
      const at = match ? match.index : text.length;
      if (at > i) {
        this._put(text.slice(i, at));
      }
      if (!match) {
        break;
      }
      const c = text[at];
      if (c === '\n') {
        this._newline();
        i = at + 1;
      } else if (c === '\r') {
        this._col = 0;
        i = at + 1;
      } else if (c === '\b') {
        this._col = Math.max(0, this._col - 1);
        i = at + 1;
      } else {
        const end = this._escape(text, at);
        if (end < 0) {
          if (text.length - at <= MAX_PENDING) {
            this._pending = text.slice(at);
          }
          break;
        }
        i = end;
      }
    }
  }

  /**
   * The lines changed since the last call, or null when none did.
   */
  take(): ILogUpdate | null {
    if (this._dirty === Infinity) {
      return null;
    }
    const from = Math.max(this._dirty, this._base);
    const update = { from, lines: this._lines.slice(from - this._base) };
    this._dirty = Infinity;
    // Rows far above the cursor can no longer change: forget them.
    const drop = Math.min(
      this._row - this._base,
      this._lines.length - EDITABLE_ROWS
    );
    if (drop > 0) {
      this._lines.splice(0, drop);
      this._base += drop;
    }
    if (this._startAt > 1024) {
      this._starts.splice(0, this._startAt);
      this._startAt = 0;
    }
    return update;
  }

  /**
   * Read the escape sequence at `at`.
   *
   * @returns The index after it, or -1 when the text ends inside it
   */
  private _escape(text: string, at: number): number {
    const next = text[at + 1];
    if (next === undefined) {
      return -1;
    }
    if (next === '[') {
      CSI.lastIndex = at + 2;
      const match = CSI.exec(text)!;
      const end = at + 2 + match[0].length;
      if (!match[2]) {
        // Cut by the chunk's end, or malformed (then skipped).
        return end >= text.length ? -1 : end;
      }
      this._csi(match[1], match[2]);
      return end;
    }
    if (next === ']') {
      // OSC (titles, hyperlinks): dropped, up to BEL or ESC \ (never past a line's end).
      for (let k = at + 2; k < text.length; k++) {
        const c = text[k];
        if (c === '\x07') {
          return k + 1;
        }
        if (c === '\n') {
          return k;
        }
        if (c === '\x1b') {
          if (k + 1 >= text.length) {
            return -1;
          }
          if (text[k + 1] === '\\') {
            return k + 2;
          }
        }
      }
      return -1;
    }
    // A two-character escape; a lone ESC before a control character is dropped alone.
    return next < ' ' ? at + 1 : at + 2;
  }

  private _csi(params: string, final: string): void {
    const n = parseInt(params, 10);
    const count = Number.isNaN(n) || n < 1 ? 1 : n;
    switch (final) {
      case 'm':
        this._style.apply(params);
        this._cls = this._style.classes();
        break;
      case 'K': {
        const line = this._lines[this._row - this._base];
        const length = lineLength(line.spans);
        if (params === '2') {
          line.spans = [];
        } else if (params === '1') {
          const upTo = Math.min(this._col + 1, length);
          const spans: ISpan[] = [];
          appendSpan(spans, ' '.repeat(upTo), '');
          for (const span of sliceSpans(line.spans, upTo, length)) {
            appendSpan(spans, span.text, span.cls);
          }
          line.spans = spans;
        } else if (this._col < length) {
          line.spans = sliceSpans(line.spans, 0, this._col);
        }
        this._touch();
        break;
      }
      case 'A':
        this._row = Math.max(this._base, this._row - count);
        break;
      case 'B':
        this._row = Math.min(
          this._base + this._lines.length - 1,
          this._row + count
        );
        break;
      case 'C':
        this._col += count;
        break;
      case 'D':
        this._col = Math.max(0, this._col - count);
        break;
      case 'G':
        this._col = count - 1;
        break;
      default:
        // Other sequences (erase display, modes…) mean nothing in a log.
        break;
    }
  }

  /**
   * Write printable text at the cursor, over what is there.
   */
  private _put(text: string): void {
    const line = this._lines[this._row - this._base];
    const length = lineLength(line.spans);
    if (this._col >= length) {
      appendSpan(line.spans, ' '.repeat(this._col - length), '');
      appendSpan(line.spans, text, this._cls);
    } else {
      const spans = sliceSpans(line.spans, 0, this._col);
      appendSpan(spans, text, this._cls);
      for (const span of sliceSpans(
        line.spans,
        this._col + text.length,
        length
      )) {
        appendSpan(spans, span.text, span.cls);
      }
      line.spans = spans;
    }
    this._col += text.length;
    this._touch();
  }

  private _newline(): void {
    // The row ends (a view shows the end of a line differently from a line still growing).
    this._touch();
    const start =
      this._startAt < this._starts.length ? this._starts[this._startAt++] : -1;
    this._row++;
    if (this._row - this._base >= this._lines.length) {
      this._lines.push({ spans: [], start });
    }
    this._col = 0;
    this._touch();
  }

  private _touch(): void {
    this._dirty = Math.min(this._dirty, this._row);
  }

  private _decoder = new TextDecoder();
  private _offset: number;
  private _lines: ILogLine[];
  private _base = 0;
  private _row = 0;
  private _col = 0;
  private _dirty = 0;
  private _style = new Style();
  private _cls = '';
  private _pending = '';
  private _starts: number[] = [];
  private _startAt = 0;
}

/**
 * Assemble a whole stretch of a log that ends at a line's end (an earlier part of it).
 *
 * @param bytes The bytes, from the start of a line
 * @param offset Their byte offset in the log
 * @returns Its lines
 */
export function assembleLines(bytes: Uint8Array, offset: number): ILogLine[] {
  const assembler = new LogAssembler(offset);
  assembler.push(bytes);
  assembler.end();
  const lines = assembler.take()?.lines ?? [];
  // The row after the final newline is empty: it is the next stretch's first line.
  const last = lines[lines.length - 1];
  if (last && last.spans.length === 0 && bytes[bytes.length - 1] === 10) {
    lines.pop();
  }
  return lines;
}

/**
 * Where the first whole line of a stretch read from the middle of a log begins: after the
 * first newline; without one, at the last carriage return (a progress bar's last state) or
 * at the first whole character.
 *
 * @param bytes The stretch
 * @param offset Its byte offset in the log (0: the log's start, nothing is cut)
 * @returns The index of the first byte to keep
 */
export function firstLineStart(bytes: Uint8Array, offset: number): number {
  if (offset === 0) {
    return 0;
  }
  const newline = bytes.indexOf(10);
  if (newline >= 0) {
    return newline + 1;
  }
  const cr = bytes.lastIndexOf(13);
  if (cr >= 0) {
    return cr;
  }
  let i = 0;
  while (i < bytes.length && (bytes[i] & 0xc0) === 0x80) {
    i++;
  }
  return i;
}

/**
 * The plain text of a line.
 *
 * @param line The line
 * @returns Its text
 */
export function lineText(line: ILogLine): string {
  return line.spans.map(s => s.text).join('');
}

/**
 * Draw one line.
 *
 * @param line The line
 * @param newline Whether it has ended (the last line may still grow)
 * @param search Matches to mark, or null
 * @returns The element
 */
export function renderLine(
  line: ILogLine,
  newline: boolean,
  search: RegExp | null
): HTMLElement {
  const element = document.createElement('span');
  element.className = 'jp-ModelArts-logLine';
  const ranges: [number, number][] = [];
  if (search) {
    search.lastIndex = 0;
    const text = lineText(line);
    for (let m = search.exec(text); m; m = search.exec(text)) {
      ranges.push([m.index, m.index + m[0].length]);
    }
  }
  let at = 0;
  let r = 0;
  for (const span of line.spans) {
    const end = at + span.text.length;
    let i = at;
    while (i < end) {
      while (r < ranges.length && ranges[r][1] <= i) {
        r++;
      }
      const inside = r < ranges.length && ranges[r][0] <= i;
      const stop = Math.min(
        end,
        r < ranges.length ? ranges[r][inside ? 1 : 0] : end
      );
      let node: Node = document.createTextNode(
        span.text.slice(i - at, stop - at)
      );
      if (span.cls) {
        const styled = document.createElement('span');
        styled.className = span.cls;
        styled.append(node);
        node = styled;
      }
      if (inside) {
        const mark = document.createElement('mark');
        // A match cut by a change of colour is one match: navigation goes by its first piece.
        mark.className =
          i === ranges[r][0] ? 'jp-ModelArts-match' : 'jp-ModelArts-matchMore';
        mark.append(node);
        node = mark;
      }
      element.append(node);
      i = stop;
    }
    at = end;
  }
  if (newline) {
    const last = element.lastChild;
    if (last instanceof Text) {
      last.appendData('\n');
    } else {
      element.append('\n');
    }
  }
  return element;
}
