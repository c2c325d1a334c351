import { TranslationBundle } from '@jupyterlab/translation';
import { launchIcon, stopIcon } from '@jupyterlab/ui-components';
import type { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

import { describeIdle, formatRemaining } from '../api/countdown';
import { IModelArtsModel } from '../api/interfaces';
import { isFinal } from '../api/model';
import { ModelArtsService } from '../api/service';
import { IImage, IJobSummary } from '../api/tokens';
import { CommandIDs } from '../commandids';
import { assembleLines, firstLineStart, renderLine } from '../jobview/ansi';
import { readLog } from '../jobview/logsource';
import { RENEW_HOURS } from '../panel/section';
import {
  displayLocale,
  formatBytes,
  formatDuration,
  h,
  iconButton
} from '../ui/dom';
import { OutputMimeTypes } from './index';

/**
 * What the cell outputs share.
 */
export interface IOutputContext {
  /** The shared model. */
  model: IModelArtsModel;
  /** The application's commands (open, stop, renew). */
  commands: CommandRegistry;
  /** The translation bundle. */
  trans: TranslationBundle;
}

/**
 * Bytes of log read for the last lines of a job output.
 */
const TAIL_BYTES = 16384;

/**
 * Log lines a job output shows (as many as the kernel's text snapshot).
 */
const TAIL_LINES = 10;

/**
 * The least time between two log reads of one output.
 */
const TAIL_INTERVAL_MS = 1000;

/**
 * One cell output, drawn from the shared model; it only updates DOM and never polls.
 */
export abstract class OutputView {
  constructor(protected context: IOutputContext) {}

  /**
   * Its element.
   */
  readonly node = h('div', { class: 'jp-ModelArts-cellOutput' });

  /**
   * Whether it is on screen (in the viewport of a visible tab).
   */
  get visible(): boolean {
    return this._visible && !document.hidden;
  }

  /**
   * Start following the model, once the element is in its output area.
   *
   * @param _host The renderer widget holding it
   */
  attach(_host: Widget): void {
    if (typeof IntersectionObserver !== 'undefined') {
      this._observer = new IntersectionObserver(entries => {
        this._visible = entries.some(e => e.isIntersecting);
        this.onVisibility();
      });
      this._observer.observe(this.node);
    }
    document.addEventListener('visibilitychange', this._onPageVisibility);
    this.context.model.changed.connect(this.update, this);
    this.context.model.tick.connect(this.onTick, this);
    this.update();
  }

  /**
   * Stop following the model.
   */
  dispose(): void {
    this._observer?.disconnect();
    document.removeEventListener('visibilitychange', this._onPageVisibility);
    Signal.disconnectReceiver(this);
    this.isDisposed = true;
  }

  isDisposed = false;

  /**
   * Draw the model's state.
   */
  protected abstract update(): void;

  /**
   * Every second (running times, countdown).
   */
  protected onTick(): void {
    // Only views with a clock redraw on ticks.
  }

  /**
   * It came on screen or went off.
   */
  protected onVisibility(): void {
    // Only views that read more than the model react.
  }

  private _onPageVisibility = () => this.onVisibility();
  private _observer: IntersectionObserver | null = null;
  private _visible = true;
}

/**
 * A job: name, id, phase, duration, tasks, the last lines of its first task's log, Open and
 * Stop. The log is read again when it grows (pushed), at most once a second and only while
 * the output is on screen.
 */
class JobOutputView extends OutputView {
  constructor(
    private _jobId: string,
    context: IOutputContext
  ) {
    super(context);
    const { trans, commands } = context;
    this.node.classList.add('jp-ModelArts-jobOutput');
    this.node.dataset.jobId = _jobId;
    this._stop = iconButton(
      stopIcon,
      trans.__('Stop the job'),
      () => void commands.execute(CommandIDs.stopJob, { id: this._jobId }),
      { class: 'jp-ModelArts-outputStop' }
    );
    this.node.append(
      h(
        'div',
        { class: 'jp-ModelArts-outputHeader' },
        this._name,
        this._phase,
        this._duration,
        h('span', { class: 'jp-ModelArts-outputSpacer' }),
        iconButton(
          launchIcon,
          trans.__('Open the job view'),
          () => void commands.execute(CommandIDs.openJob, { id: this._jobId }),
          { class: 'jp-ModelArts-outputOpen' }
        ),
        this._stop
      ),
      h('div', { class: 'jp-ModelArts-outputFacts' }, this._id, this._tasks),
      this._message,
      h('div', { class: 'jp-RenderedText jp-ModelArts-outputLog' }, this._log)
    );
    this._id.textContent = _jobId;
  }

  attach(host: Widget): void {
    const { model } = this.context;
    model.jobChanged.connect(this._onJobChanged, this);
    model.logGrew.connect((_, growth) => {
      if (growth.job_id === this._jobId && growth.size !== this._logSize) {
        this._grownTo = Math.max(this._grownTo, growth.size);
        this._requestTail();
      }
    }, this);
    super.attach(host);
    if (!model.jobSummary(this._jobId) || !model.jobTasks(this._jobId)) {
      model.getJob(this._jobId).catch(error => {
        this._message.textContent = ModelArtsService.errorMessage(
          error,
          this.context.trans
        );
      });
    }
    this._requestTail();
  }

  dispose(): void {
    window.clearTimeout(this._tailTimer);
    super.dispose();
  }

  protected update(): void {
    const job = this.context.model.jobSummary(this._jobId);
    if (!job) {
      return;
    }
    const { trans } = this.context;
    this.node.dataset.phase = job.phase;
    this._name.textContent = job.name;
    this._phase.textContent = job.phase;
    this._phase.dataset.phase = job.phase;
    this._stop.disabled = isFinal(job) || job.phase === 'Terminating';
    this._message.textContent = job.message;
    this._message.hidden = !job.message;
    const tasks = this.context.model.jobTasks(this._jobId) ?? [];
    this._tasks.textContent =
      tasks.length > 1
        ? tasks.map(t => `${t.name} ${t.phase}`).join(' · ')
        : job.exit_code !== null
          ? trans.__('exit code %1', job.exit_code)
          : '';
    this.onTick();
  }

  protected onTick(): void {
    const job = this.context.model.jobSummary(this._jobId);
    if (job?.started_at) {
      const end = job.ended_at ?? (isFinal(job) ? job.started_at : Date.now());
      const text = formatDuration(end - job.started_at);
      if (this._duration.textContent !== text) {
        this._duration.textContent = text;
      }
    }
  }

  protected onVisibility(): void {
    this._pumpTail();
  }

  private _onJobChanged(_: IModelArtsModel, job: IJobSummary): void {
    if (job.id === this._jobId) {
      this.update();
      // A phase change (and the fallback poll) may come with more log.
      this._requestTail();
    }
  }

  private _requestTail(): void {
    if (!this._logComplete) {
      this._tailDue = true;
      this._pumpTail();
    }
  }

  private _pumpTail(): void {
    if (
      !this._tailDue ||
      this._tailBusy ||
      this._tailTimer ||
      !this.visible ||
      this.isDisposed
    ) {
      return;
    }
    const wait = this._tailAt + TAIL_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this._tailTimer = window.setTimeout(() => {
        this._tailTimer = 0;
        this._pumpTail();
      }, wait);
      return;
    }
    this._tailDue = false;
    this._tailBusy = true;
    this._tailAt = Date.now();
    void this._readTail().finally(() => {
      this._tailBusy = false;
      this._pumpTail();
    });
  }

  /**
   * Read what the log gained since the last read (its last TAIL_BYTES when that is more, or
   * at first), and show the last lines of the window kept.
   */
  private async _readTail(): Promise<void> {
    const tasks = this.context.model.jobTasks(this._jobId);
    const task = tasks?.[0]?.name ?? 'worker-0';
    const end = this._window.start + this._window.bytes.length;
    // Only what it gained, when events said how much (without them it could be anything).
    const append =
      this.context.model.live &&
      this._logSize >= 0 &&
      end > 0 &&
      this._grownTo - end <= TAIL_BYTES;
    try {
      const read = await readLog(
        this.context.model.service.serverSettings,
        this._jobId,
        task,
        append ? `bytes=${end}-` : `bytes=-${TAIL_BYTES}`
      );
      const job = this.context.model.jobSummary(this._jobId);
      this._logSize = read.size;
      this._logComplete = read.complete && !!job && isFinal(job);
      if (append && read.start === end) {
        const joined = new Uint8Array(
          this._window.bytes.length + read.bytes.length
        );
        joined.set(this._window.bytes);
        joined.set(read.bytes, this._window.bytes.length);
        const cut = Math.max(0, joined.length - TAIL_BYTES);
        this._window = {
          bytes: joined.subarray(cut),
          start: end - this._window.bytes.length + cut
        };
      } else {
        const cut = Math.max(0, read.bytes.length - TAIL_BYTES);
        this._window = {
          bytes: read.bytes.subarray(cut),
          start: read.start + cut
        };
      }
      const { bytes, start } = this._window;
      const skip = firstLineStart(bytes, start);
      const lines = assembleLines(bytes.subarray(skip), start + skip).slice(
        -TAIL_LINES
      );
      this._log.replaceChildren(
        ...lines.map(line => renderLine(line, true, null))
      );
      this._log.hidden = lines.length === 0;
    } catch {
      // No log yet (the task has not started) or the job is gone: the header says which.
      this._log.hidden = true;
    }
  }

  private _name = h('strong', { class: 'jp-ModelArts-outputName' });
  private _phase = h('span', { class: 'jp-ModelArts-badge' });
  private _duration = h('span', { class: 'jp-ModelArts-outputDuration' });
  private _id = h('code', { class: 'jp-ModelArts-outputId' });
  private _tasks = h('span', { class: 'jp-ModelArts-outputTasks' });
  private _message = h('div', { class: 'jp-ModelArts-outputMessage' });
  private _log = h('pre', { hidden: true });
  private _stop: HTMLButtonElement;
  private _logSize = -1;
  private _grownTo = 0;
  private _window = { bytes: new Uint8Array(0), start: 0 };
  private _logComplete = false;
  private _tailDue = false;
  private _tailBusy = false;
  private _tailTimer = 0;
  private _tailAt = 0;
}

/**
 * The auto-stop countdown: the status bar's time, urgency and stop time, and a renew control.
 */
class LeaseOutputView extends OutputView {
  constructor(context: IOutputContext) {
    super(context);
    const { trans, commands } = context;
    this.node.classList.add('jp-ModelArts-leaseOutput');
    this._hours = h(
      'select',
      {
        class: 'jp-mod-styled jp-ModelArts-outputHours',
        'aria-label': trans.__('Lease length')
      },
      ...RENEW_HOURS.map(hours =>
        h('option', { value: hours }, trans._n('%1 hour', '%1 hours', hours))
      )
    );
    this._controls = h(
      'div',
      { class: 'jp-ModelArts-outputControls' },
      this._hours,
      h(
        'button',
        {
          type: 'button',
          class:
            'jp-Button jp-mod-styled jp-mod-accept jp-ModelArts-outputRenew',
          onclick: () =>
            void commands.execute(CommandIDs.renew, {
              hours: Number(this._hours.value)
            })
        },
        trans.__('Renew')
      )
    );
    this.node.append(
      h(
        'div',
        { class: 'jp-ModelArts-outputHeader' },
        this._remaining,
        this._stopAt
      ),
      this._controls
    );
  }

  protected update(): void {
    this.onTick();
  }

  protected onTick(): void {
    const { model, trans } = this.context;
    const { countdown } = model;
    const remaining = countdown.remaining();
    this.node.dataset.level = countdown.level();
    this._controls.hidden = !countdown.enabled;
    const idle = describeIdle(countdown, trans);
    if (idle !== null) {
      // IDLE: the sentence says the kind, whether busy and when it would stop.
      const sign = h('span', { class: 'jp-ModelArts-powerSign' }, '⏻');
      this._remaining.replaceChildren(
        sign,
        remaining === null ? '' : ` ${formatRemaining(remaining)}`
      );
      this._stopAt.textContent = idle;
      return;
    }
    if (remaining === null) {
      this._remaining.textContent =
        model.error('lease') ??
        (model.ready ? trans.__('Auto-stop is off') : trans.__('Loading…'));
      this._stopAt.textContent = '';
      return;
    }
    // The status bar's power sign and time, so that both read the same.
    const sign = h('span', { class: 'jp-ModelArts-powerSign' }, '⏻');
    this._remaining.replaceChildren(sign, ` ${formatRemaining(remaining)}`);
    this._stopAt.textContent = trans.__(
      'stops at %1',
      new Date(countdown.stopAt!).toLocaleTimeString(displayLocale())
    );
  }

  private _remaining = h('strong', { class: 'jp-ModelArts-outputRemaining' });
  private _stopAt = h('span', { class: 'jp-ModelArts-outputStopAt' });
  private _hours: HTMLSelectElement;
  private _controls: HTMLElement;
}

/**
 * An image save: its name, status until ACTIVE or CREATE_FAILED, progress and message.
 */
class ImageOutputView extends OutputView {
  constructor(
    private _imageId: string,
    context: IOutputContext
  ) {
    super(context);
    this.node.classList.add('jp-ModelArts-imageOutput');
    this.node.append(
      h(
        'div',
        { class: 'jp-ModelArts-outputHeader' },
        this._name,
        this._status
      ),
      this._progress,
      this._message
    );
  }

  attach(host: Widget): void {
    super.attach(host);
    if (!this._image()) {
      this.context.model.service
        .getImage(this._imageId)
        .then(image => {
          this._fetched = image;
          this.update();
        })
        .catch(error => {
          this._message.textContent = ModelArtsService.errorMessage(
            error,
            this.context.trans
          );
        });
    }
  }

  protected update(): void {
    const image = this._image();
    if (!image) {
      return;
    }
    const { trans } = this.context;
    this.node.dataset.status = image.status;
    this._name.textContent = `${image.namespace}/${image.name}:${image.tag}`;
    this._status.textContent = image.status;
    this._status.dataset.status = image.status;
    const running = image.status === 'INIT' || image.status === 'CREATING';
    this._progress.hidden = !running || image.bytes_total <= 0;
    this._progress.max = Math.max(1, image.bytes_total);
    this._progress.value = image.bytes_done;
    this._progress.title = trans.__(
      '%1 of %2',
      formatBytes(image.bytes_done),
      formatBytes(image.bytes_total)
    );
    this._message.textContent =
      image.status === 'ACTIVE' && image.size_bytes !== null
        ? `${formatBytes(image.size_bytes)} · ${image.location ?? ''}`
        : image.status_message;
  }

  private _image(): IImage | null {
    return (
      this.context.model.images.find(i => i.id === this._imageId) ??
      this._fetched
    );
  }

  private _fetched: IImage | null = null;
  private _name = h('strong', { class: 'jp-ModelArts-outputName' });
  private _status = h('span', { class: 'jp-ModelArts-badge' });
  private _progress = h('progress', { class: 'jp-ModelArts-outputProgress' });
  private _message = h('div', { class: 'jp-ModelArts-outputMessage' });
}

/**
 * The view of one output.
 *
 * @param mimeType Its MIME type
 * @param data Its data (`{job_id}`, `{}` or `{image_id}`)
 * @param context What the outputs share
 * @returns The view
 */
export function createView(
  mimeType: string,
  data: Record<string, unknown>,
  context: IOutputContext
): OutputView {
  switch (mimeType) {
    case OutputMimeTypes.job:
      return new JobOutputView(String(data.job_id), context);
    case OutputMimeTypes.image:
      return new ImageOutputView(String(data.image_id), context);
    default:
      return new LeaseOutputView(context);
  }
}
