import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  caretDownEmptyThinIcon,
  caretUpEmptyThinIcon,
  closeIcon,
  LabIcon
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { ModelArtsService } from '../api/service';
import { formatBytes, h } from '../ui/dom';
import {
  assembleLines,
  firstLineStart,
  ILogLine,
  lineText,
  LogAssembler,
  renderLine
} from './ansi';
import { readLog } from './logsource';

/**
 * Bytes read from the end on opening: the end shows at once whatever the log's size.
 */
const TAIL_BYTES = 262144;

/**
 * Bytes read per step when scrolling back.
 */
const EARLIER_BYTES = 262144;

/**
 * Most lines on screen: older ones are dropped while following, newer ones while reading back.
 */
const MAX_LINES = 20000;

/**
 * Lines dropped at once past the cap, so that following does not trim at every append.
 */
const TRIM_SLACK = 2000;

/**
 * Scrolling this close to the top loads earlier output.
 */
const EARLIER_MARGIN = 64;

/**
 * Lines per block: a line added or changed lays out its block again, not the whole log.
 */
const BLOCK_LINES = 100;

function block(lines: HTMLElement[]): HTMLElement {
  const element = document.createElement('div');
  element.className = 'jp-ModelArts-logBlock';
  element.append(...lines);
  return element;
}

function matches(regex: RegExp | null, text: string): boolean {
  if (!regex) {
    return false;
  }
  regex.lastIndex = 0;
  return regex.test(text);
}

/**
 * One task's log, drawn like notebook output (ANSI colours, progress bars collapsed to their
 * last state): it opens at the end whatever the log's size, loads earlier parts when scrolled
 * to the top, appends what the task writes when told it grew (one read at a time), keeps at
 * most `MAX_LINES` lines, and searches the lines it holds.
 */
export class LogView extends Widget {
  /**
   * Create the view; `setTask` starts it.
   *
   * @param options The options
   */
  constructor(options: LogView.IOptions) {
    super();
    this._settings = options.serverSettings;
    this._jobId = options.jobId;
    this._trans = options.trans;
    const trans = this._trans;
    this.addClass('jp-ModelArts-logView');

    this._query = h('input', {
      type: 'search',
      class: 'jp-mod-styled jp-ModelArts-logQuery',
      placeholder: trans.__('Search the loaded log'),
      'aria-label': trans.__('Search the loaded log'),
      oninput: () => this._search(),
      onkeydown: (event: KeyboardEvent) => {
        if (event.key === 'Enter') {
          event.preventDefault();
          this.findNext(event.shiftKey ? -1 : 1);
        } else if (event.key === 'Escape') {
          event.preventDefault();
          this.closeSearch();
        }
      }
    });
    this._count = h('span', {
      class: 'jp-ModelArts-logCount',
      'aria-live': 'polite'
    });
    const iconButton = (
      icon: LabIcon,
      label: string,
      onclick: () => void,
      cls: string
    ) => {
      const b = h('button', {
        type: 'button',
        class: `jp-Button jp-mod-minimal jp-ModelArts-iconButton ${cls}`,
        title: label,
        'aria-label': label,
        onclick
      });
      b.append(icon.element({ tag: 'span' }));
      return b;
    };
    this._searchBar = h(
      'div',
      { class: 'jp-ModelArts-logSearch', hidden: true },
      this._query,
      this._count,
      iconButton(
        caretUpEmptyThinIcon,
        trans.__('Previous match'),
        () => this.findNext(-1),
        'jp-ModelArts-logPrev'
      ),
      iconButton(
        caretDownEmptyThinIcon,
        trans.__('Next match'),
        () => this.findNext(1),
        'jp-ModelArts-logNext'
      ),
      iconButton(
        closeIcon,
        trans.__('Close search'),
        () => this.closeSearch(),
        'jp-ModelArts-logClose'
      )
    );
    this._earlier = h(
      'button',
      {
        type: 'button',
        class: 'jp-Button jp-mod-styled jp-mod-reject jp-ModelArts-logEarlier',
        hidden: true,
        onclick: () => void this.loadEarlier()
      },
      ''
    );
    this._later = h(
      'button',
      {
        type: 'button',
        class: 'jp-Button jp-mod-styled jp-mod-reject jp-ModelArts-logLater',
        hidden: true,
        onclick: () => void this.reload()
      },
      trans.__('Newer output is not shown: show the end of the log')
    );
    this._pre = h('pre', { class: 'jp-ModelArts-log' });
    this._scroller = h(
      'div',
      {
        class: 'jp-ModelArts-logScroll',
        tabindex: 0,
        role: 'log',
        'aria-label': trans.__('Log'),
        onscroll: () => this._onScroll()
      },
      this._earlier,
      // Lab's ANSI colour classes apply inside `.jp-RenderedText pre`, in both themes.
      h(
        'div',
        {
          class: 'jp-RenderedText',
          'data-mime-type': 'application/vnd.jupyter.stdout'
        },
        this._pre
      ),
      this._later
    );
    this._status = h('div', {
      class: 'jp-ModelArts-logStatus',
      'aria-live': 'polite',
      hidden: true
    });
    this.node.append(this._searchBar, this._scroller, this._status);
    this._marks = this._pre.getElementsByClassName('jp-ModelArts-match');
    document.addEventListener('visibilitychange', this);
  }

  /**
   * Emitted when the search bar opens (true) or closes (false).
   */
  get searchToggled(): ISignal<this, boolean> {
    return this._searchToggled;
  }

  /**
   * The task shown.
   */
  get task(): string {
    return this._task;
  }

  /**
   * Whether long lines wrap.
   */
  get wrap(): boolean {
    return this._pre.classList.contains('jp-mod-wrap');
  }
  set wrap(value: boolean) {
    this._pre.classList.toggle('jp-mod-wrap', value);
  }

  /**
   * Whether the search bar is open.
   */
  get searching(): boolean {
    return !this._searchBar.hidden;
  }

  /**
   * Show a task's log, from its end.
   *
   * @param task The task
   */
  setTask(task: string): void {
    if (task !== this._task) {
      this._task = task;
      void this.reload();
    }
  }

  /**
   * Show the end of the log afresh.
   */
  async reload(): Promise<void> {
    const gen = this._restart();
    this._setStatus(this._trans.__('Loading…'));
    try {
      const part = await readLog(
        this._settings,
        this._jobId,
        this._task,
        `bytes=-${TAIL_BYTES}`,
        this._abort.signal
      );
      if (gen !== this._gen) {
        return;
      }
      const cut = firstLineStart(part.bytes, part.start);
      this._first = part.start + cut;
      this._end = part.start + part.bytes.length;
      this._known = part.size;
      this._assembler = new LogAssembler(this._first);
      this._assembler.push(part.bytes.subarray(cut));
      this._complete = part.complete && this._end >= part.size;
      if (this._complete) {
        this._assembler.end();
      }
      this._pre.replaceChildren();
      this._rows = [];
      this._els = [];
      this._shift = 0;
      this._later.hidden = true;
      this._stick = true;
      this._error = '';
      this._render();
      this._fill();
      if (this._known > this._end) {
        this.catchUp();
      }
    } catch (error) {
      this._fail(gen, error);
    }
  }

  /**
   * The log grew (a pushed event): read the new bytes.
   *
   * @param size Its size now
   */
  grew(size: number): void {
    this._known = Math.max(this._known, size);
    if (size > this._end) {
      this.catchUp();
    }
  }

  /**
   * Read whatever the log holds past what is shown (the job ended, or events are down). Reads
   * one request at a time, and only while the view can be seen.
   */
  catchUp(): void {
    if (this._reading) {
      this._again = true;
    } else if (!this._canSee()) {
      this._missed = true;
    } else if (this._assembler && !this._complete) {
      void this._readNew();
    }
  }

  /**
   * Load the part of the log before the first line shown.
   */
  async loadEarlier(): Promise<void> {
    if (this._loadingEarlier || this._first <= 0 || !this._task) {
      return;
    }
    this._loadingEarlier = true;
    const gen = this._gen;
    try {
      // One byte more than the stretch: when it is a newline, the first line read is whole.
      const from = Math.max(0, this._first - EARLIER_BYTES - 1);
      const part = await readLog(
        this._settings,
        this._jobId,
        this._task,
        `bytes=${from}-${this._first - 1}`,
        this._abort.signal
      );
      if (gen !== this._gen) {
        return;
      }
      const cut = firstLineStart(part.bytes, part.start);
      const lines = assembleLines(part.bytes.subarray(cut), part.start + cut);
      const els = lines.map(line => renderLine(line, true, this._regex));
      // Keep the line at the top where it is on screen (lines may go at the bottom too).
      const anchor = this._els[0];
      const before = anchor?.getBoundingClientRect().top ?? 0;
      const fragment = document.createDocumentFragment();
      for (let i = 0; i < els.length; i += BLOCK_LINES) {
        fragment.append(block(els.slice(i, i + BLOCK_LINES)));
      }
      this._pre.prepend(fragment);
      this._rows = lines.concat(this._rows);
      this._els = els.concat(this._els);
      this._shift += lines.length;
      this._first = part.start + cut;
      if (this._rows.length > MAX_LINES) {
        this._detach(MAX_LINES);
      }
      this._updateEarlier();
      if (anchor) {
        this._scroller.scrollTop += anchor.getBoundingClientRect().top - before;
      }
      this._error = '';
      this._setStatus('');
      this._updateCount();
    } catch (error) {
      this._fail(gen, error);
    } finally {
      if (gen === this._gen) {
        this._loadingEarlier = false;
      }
    }
    this._fill();
  }

  /**
   * Scroll to the end and follow what comes (reloading the end when it was dropped).
   */
  scrollToEnd(): void {
    if (!this._assembler) {
      void this.reload();
      return;
    }
    this._stick = true;
    this._scroller.scrollTop = this._scroller.scrollHeight;
  }

  /**
   * Open the search bar.
   */
  openSearch(): void {
    this._searchBar.hidden = false;
    this._query.focus();
    this._query.select();
    this._search();
    this._searchToggled.emit(true);
  }

  /**
   * Close the search bar and remove the marks.
   */
  closeSearch(): void {
    this._searchBar.hidden = true;
    this._search();
    this._scroller.focus();
    this._searchToggled.emit(false);
  }

  /**
   * Go to the next (or previous) match.
   *
   * @param step 1 for the next, -1 for the previous
   */
  findNext(step: 1 | -1): void {
    const n = this._marks.length;
    if (n === 0) {
      return;
    }
    const index = this._current
      ? Array.prototype.indexOf.call(this._marks, this._current)
      : -1;
    const next = index < 0 ? (step > 0 ? 0 : n - 1) : (index + step + n) % n;
    this._setCurrent(this._marks[next] as HTMLElement);
  }

  /**
   * Download the whole log.
   *
   * @param name The file name
   */
  async download(name: string): Promise<void> {
    try {
      const part = await readLog(
        this._settings,
        this._jobId,
        this._task,
        null,
        this._abort.signal
      );
      const url = URL.createObjectURL(
        new Blob([part.bytes], { type: 'text/plain' })
      );
      const link = h('a', { href: url, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      // The download has taken the blob once the click is handled.
      requestAnimationFrame(() => URL.revokeObjectURL(url));
    } catch (error) {
      this._fail(this._gen, error);
    }
  }

  /**
   * Handle the document's visibility changes.
   */
  handleEvent(event: Event): void {
    if (event.type === 'visibilitychange') {
      this._catchUpMissed();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._abort.abort();
    document.removeEventListener('visibilitychange', this);
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._stick) {
      this._scroller.scrollTop = this._scroller.scrollHeight;
    }
    this._catchUpMissed();
    this._fill();
  }

  /**
   * Read what was asked for while the view could not be seen.
   */
  private _catchUpMissed(): void {
    if ((this._missed || this._known > this._end) && this._canSee()) {
      this._missed = false;
      this.catchUp();
    }
  }

  private _canSee(): boolean {
    return this.isVisible && !document.hidden;
  }

  /**
   * Forget the log shown (and the reads under way).
   *
   * @returns The new generation: answers of older ones are ignored
   */
  private _restart(): number {
    this._abort.abort();
    this._abort = new AbortController();
    this._reading = false;
    this._again = false;
    this._loadingEarlier = false;
    this._assembler = null;
    return ++this._gen;
  }

  private async _readNew(): Promise<void> {
    this._reading = true;
    const gen = this._gen;
    try {
      let progress = true;
      while (progress && this._assembler && !this._complete) {
        this._again = false;
        const part = await readLog(
          this._settings,
          this._jobId,
          this._task,
          `bytes=${this._end}-`,
          this._abort.signal
        );
        if (gen !== this._gen || !this._assembler) {
          return;
        }
        const skip = this._end - part.start;
        if (part.size < this._end || skip < 0) {
          // The log was replaced under us: start over from its end.
          void this.reload();
          return;
        }
        this._known = Math.max(this._known, part.size);
        progress = part.bytes.length > skip;
        if (progress) {
          this._assembler.push(part.bytes.subarray(skip));
          this._end = part.start + part.bytes.length;
        }
        if (part.complete && this._end >= part.size) {
          this._assembler.end();
          this._complete = true;
        }
        this._error = '';
        this._render();
        progress =
          (progress || this._again) &&
          (this._again || this._known > this._end) &&
          this._canSee();
      }
    } catch (error) {
      this._fail(gen, error);
    } finally {
      if (gen === this._gen) {
        this._reading = false;
        // Asked again while the view could not be seen: read once it can.
        this._missed ||= this._again;
      }
    }
  }

  /**
   * Draw the lines the assembler changed.
   */
  private _render(): void {
    const update = this._assembler?.take();
    if (update) {
      let at = update.from + this._shift;
      let lines = update.lines;
      if (at < 0) {
        lines = lines.slice(-at);
        at = 0;
      }
      this._remove(this._els.splice(at));
      this._rows.splice(at);
      let last = this._pre.lastElementChild as HTMLElement | null;
      lines.forEach((line, i) => {
        const el = renderLine(line, i < lines.length - 1, this._regex);
        if (!last || last.childElementCount >= BLOCK_LINES) {
          last = block([]);
          this._pre.append(last);
        }
        last.append(el);
        this._els.push(el);
        this._rows.push(line);
      });
      if (this._rows.length > MAX_LINES + (this._stick ? TRIM_SLACK : 0)) {
        if (this._stick) {
          this._trimTop(this._rows.length - MAX_LINES);
        } else {
          // Reading back: keep what is on screen, stop adding below.
          this._detach(MAX_LINES);
        }
      }
      this._updateEarlier();
      this._updateCount();
      if (this._stick) {
        this._scroller.scrollTop = this._scroller.scrollHeight;
      }
    }
    this._setStatus(this._error || this._emptyText());
  }

  private _trimTop(count: number): void {
    let keep = count;
    while (keep < this._rows.length && this._rows[keep].start < 0) {
      keep++;
    }
    this._remove(this._els.splice(0, keep));
    this._rows.splice(0, keep);
    this._shift -= keep;
    this._first = this._rows[0]?.start ?? this._end;
  }

  /**
   * Keep the first `keep` lines and stop following: the rest shows again from the end.
   */
  private _detach(keep: number): void {
    const end = this._rows[keep]?.start ?? -1;
    if (end < 0) {
      return;
    }
    this._remove(this._els.splice(keep));
    this._rows.splice(keep);
    // A read under way sees no assembler and stops.
    this._assembler = null;
    this._end = end;
    this._later.hidden = false;
  }

  /**
   * Remove lines from the first or last blocks, and the blocks left empty.
   */
  private _remove(els: HTMLElement[]): void {
    for (const el of els) {
      el.remove();
    }
    for (const end of ['firstElementChild', 'lastElementChild'] as const) {
      for (
        let b = this._pre[end];
        b && b.childElementCount === 0;
        b = this._pre[end]
      ) {
        b.remove();
      }
    }
  }

  private _updateEarlier(): void {
    this._earlier.hidden = this._first <= 0;
    this._earlier.textContent = this._trans.__(
      'Load earlier output (%1 before)',
      formatBytes(this._first)
    );
  }

  /**
   * Load earlier output while the lines shown do not fill the view or it is still at the top
   * (no scroll event comes then).
   */
  private _fill(): void {
    const s = this._scroller;
    if (
      this._first > 0 &&
      this._canSee() &&
      (s.scrollHeight <= s.clientHeight || s.scrollTop < EARLIER_MARGIN)
    ) {
      void this.loadEarlier();
    }
  }

  private _onScroll(): void {
    const s = this._scroller;
    this._stick = s.scrollHeight - s.scrollTop - s.clientHeight < 8;
    if (s.scrollTop < EARLIER_MARGIN) {
      void this.loadEarlier();
    }
  }

  private _emptyText(): string {
    const empty =
      this._rows.length === 0 ||
      (this._rows.length === 1 && this._rows[0].spans.length === 0);
    if (!empty || !this._assembler) {
      return '';
    }
    return this._complete
      ? this._trans.__('No output.')
      : this._trans.__('Waiting for output…');
  }

  private _fail(gen: number, error: unknown): void {
    if (gen !== this._gen || (error as Error).name === 'AbortError') {
      return;
    }
    this._error = ModelArtsService.errorMessage(error, this._trans);
    this._setStatus(this._error);
  }

  private _setStatus(text: string): void {
    this._status.textContent = text;
    this._status.hidden = !text;
  }

  /**
   * Mark the matches of the search bar's text (none when it is closed).
   */
  private _search(): void {
    const query = this.searching ? this._query.value : '';
    const regex = query
      ? new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi')
      : null;
    if (!regex && !this._regex) {
      return;
    }
    const old = this._regex;
    this._regex = regex;
    this._current = null;
    const last = this._assembler ? this._rows.length - 1 : -1;
    this._rows.forEach((row, i) => {
      const text = lineText(row);
      if (matches(old, text) || matches(regex, text)) {
        const el = renderLine(row, i !== last, regex);
        this._els[i].replaceWith(el);
        this._els[i] = el;
      }
    });
    // Start from the first match on screen.
    const top = this._scroller.getBoundingClientRect().top;
    const marks = Array.from(this._marks);
    const first =
      marks.find(m => m.getBoundingClientRect().top >= top) ?? marks[0];
    if (first) {
      this._setCurrent(first as HTMLElement);
    } else {
      this._updateCount();
    }
  }

  private _setCurrent(mark: HTMLElement): void {
    this._current?.classList.remove('jp-mod-current');
    this._current = mark;
    mark.classList.add('jp-mod-current');
    mark.scrollIntoView({ block: 'center', inline: 'nearest' });
    this._updateCount();
  }

  private _updateCount(): void {
    if (!this._regex) {
      this._count.textContent = '';
      return;
    }
    const n = this._marks.length;
    const index =
      this._current && this._current.isConnected
        ? Array.prototype.indexOf.call(this._marks, this._current)
        : -1;
    this._count.textContent =
      n === 0
        ? this._trans.__('No results')
        : index < 0
          ? this._trans._n('%1 result', '%1 results', n)
          : this._trans.__('%1 of %2', index + 1, n);
  }

  private _searchToggled = new Signal<this, boolean>(this);
  private _settings: ServerConnection.ISettings;
  private _jobId: string;
  private _trans: TranslationBundle;
  private _task = '';
  private _searchBar: HTMLElement;
  private _query: HTMLInputElement;
  private _count: HTMLElement;
  private _scroller: HTMLElement;
  private _earlier: HTMLButtonElement;
  private _later: HTMLButtonElement;
  private _pre: HTMLPreElement;
  private _status: HTMLElement;
  private _marks: HTMLCollectionOf<Element>;
  private _current: HTMLElement | null = null;
  private _regex: RegExp | null = null;
  private _assembler: LogAssembler | null = null;
  private _rows: ILogLine[] = [];
  private _els: HTMLElement[] = [];
  /** Index in `_rows` of the assembler's row 0. */
  private _shift = 0;
  /** Byte offset of the first line shown. */
  private _first = 0;
  /** Byte offset after the last byte shown. */
  private _end = 0;
  /** The log's size, as last heard. */
  private _known = 0;
  private _complete = false;
  private _stick = true;
  private _reading = false;
  private _again = false;
  private _missed = false;
  private _loadingEarlier = false;
  private _error = '';
  private _gen = 0;
  private _abort = new AbortController();
}

/**
 * A namespace for LogView statics.
 */
export namespace LogView {
  /**
   * The options of a LogView.
   */
  export interface IOptions {
    /** The server's settings. */
    serverSettings: ServerConnection.ISettings;
    /** The job. */
    jobId: string;
    /** The translation bundle. */
    trans: TranslationBundle;
  }
}
