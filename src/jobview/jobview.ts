import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Poll } from '@lumino/polling';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { lineChart } from './chart';
import { button, formatDuration, formatTime, h } from '../ui/dom';
import { modelartsIcon } from '../ui/icons';
import { isFinal, ModelArtsModel } from '../api/model';
import { ModelArtsService } from '../api/service';
import { IJob } from '../api/tokens';

/**
 * Most log characters kept on screen; older text is dropped (Download gets it all).
 */
const MAX_LOG_CHARS = 2000000;

/**
 * The view of one job: its state, per-task log streaming (follow / pause, jump to end,
 * download), a metrics chart, stop and delete.
 *
 * The job's state comes from the shared model; only the log and metrics of the task on
 * screen are fetched here, and only while the view is visible.
 */
export class JobView extends Widget {
  /**
   * Create the view.
   *
   * @param options The view options
   */
  constructor(options: JobView.IOptions) {
    super();
    this.jobId = options.jobId;
    this._model = options.model;
    this._trans = options.trans;
    const trans = this._trans;
    this.id = `jupyter-modelarts-job-${options.jobId}`;
    this.addClass('jp-ModelArts-jobView');
    this.title.icon = modelartsIcon;
    this.title.closable = true;
    this.title.label = options.jobId;

    this._header = h('div', { class: 'jp-ModelArts-jobHeader' });
    this._task = h('select', {
      class: 'jp-mod-styled jp-ModelArts-task',
      'aria-label': trans.__('Task'),
      onchange: () => this._switchTask()
    });
    this._follow = button(
      trans.__('Pause'),
      () => this._toggleFollow(),
      'plain',
      {
        class: 'jp-Button jp-mod-styled jp-mod-reject jp-ModelArts-follow',
        'aria-pressed': 'true'
      }
    );
    this._stop = button(trans.__('Stop'), () => void this._stopJob(), 'warn', {
      class: 'jp-Button jp-mod-styled jp-mod-warn jp-ModelArts-stop'
    });
    this._delete = button(
      trans.__('Delete'),
      () => void this._deleteJob(),
      'warn',
      {
        class: 'jp-Button jp-mod-styled jp-mod-warn jp-ModelArts-delete'
      }
    );
    this._status = h('span', {
      class: 'jp-ModelArts-sub',
      'aria-live': 'polite'
    });
    const toolbar = h(
      'div',
      { class: 'jp-ModelArts-row jp-ModelArts-logToolbar' },
      this._task,
      this._follow,
      button(trans.__('Jump to end'), () => void this._jumpToEnd(), 'plain', {
        class: 'jp-Button jp-mod-styled jp-mod-reject jp-ModelArts-jump'
      }),
      button(trans.__('Download'), () => void this._download(), 'plain', {
        class: 'jp-Button jp-mod-styled jp-mod-reject jp-ModelArts-download'
      }),
      this._stop,
      this._delete,
      this._status
    );
    this._log = h('pre', {
      class: 'jp-ModelArts-log',
      tabindex: 0,
      'aria-label': trans.__('Log'),
      onscroll: () => this._onScroll()
    });
    this._charts = h('div', { class: 'jp-ModelArts-charts' });
    this.node.append(this._header, toolbar, this._log, this._charts);

    this._poll = new Poll({
      auto: false,
      factory: () => this._fetch(),
      frequency: { interval: 1000, backoff: true, max: 30000 },
      name: `jupyter-modelarts:logs:${options.jobId}`,
      standby: () => (this.isVisible && this._following ? 'when-hidden' : true)
    });
    this._model.changed.connect(this._render, this);
    this._render();
    void this._poll.start();
  }

  /**
   * The job shown.
   */
  readonly jobId: string;

  /**
   * The job as last reported, if known.
   */
  get job(): IJob | null {
    return this._model.jobs.find(j => j.id === this.jobId) ?? this._job;
  }

  /**
   * Stop streaming and disconnect from the model.
   */
  dispose(): void {
    this._poll.dispose();
    Signal.disconnectReceiver(this);
    super.dispose();
  }

  protected onAfterShow(): void {
    void this._poll.refresh();
  }

  private _render(): void {
    const job = this.job;
    const trans = this._trans;
    if (!job) {
      if (!this._job) {
        void this._model.service
          .getJob(this.jobId)
          .then(j => {
            this._job = j;
            this._render();
          })
          .catch(error => {
            this._header.textContent = ModelArtsService.errorMessage(error);
          });
      }
      return;
    }
    this.title.label = job.name;
    this.title.caption = `${job.name} (${job.phase})`;
    const end = job.ended_at ?? (isFinal(job) ? null : Date.now());
    const facts: [string, string][] = [
      [trans.__('Backend'), job.backend],
      [trans.__('Flavor'), job.spec.flavor ?? ''],
      [trans.__('Nodes'), String(job.spec.nodes)],
      [trans.__('Started'), formatTime(job.started_at)],
      [
        trans.__('Duration'),
        job.started_at && end ? formatDuration(end - job.started_at) : ''
      ]
    ];
    if (job.exit_code !== null) {
      facts.push([trans.__('Exit code'), String(job.exit_code)]);
    }
    const list = h('dl', { class: 'jp-ModelArts-instance' });
    for (const [label, value] of facts) {
      list.append(h('dt', {}, label), h('dd', {}, value));
    }
    const parts: Node[] = [
      h(
        'h2',
        {},
        job.name,
        ' ',
        h(
          'span',
          {
            class: 'jp-ModelArts-badge jp-ModelArts-jobPhase',
            'data-phase': job.phase
          },
          job.phase
        )
      ),
      list
    ];
    if (job.message) {
      parts.push(h('p', { class: 'jp-ModelArts-error' }, job.message));
    }
    this._header.replaceChildren(...parts);
    const tasks = job.tasks.map(t => t.name);
    if (tasks.join() !== this._tasks.join()) {
      this._tasks = tasks;
      const current = this._task.value || tasks[0];
      this._task.replaceChildren(
        ...job.tasks.map(t => h('option', { value: t.name }, t.name))
      );
      this._task.value = tasks.includes(current) ? current : (tasks[0] ?? '');
    }
    this._stop.disabled = isFinal(job) || job.phase === 'Terminating';
    this._delete.disabled = !isFinal(job);
    if (!isFinal(job) || !this._complete) {
      void this._poll.refresh();
    }
  }

  /**
   * Fetch the next log chunk (and now and then the metrics), one fetch at a time.
   */
  private _fetch(): Promise<void> {
    const run = this._pending.then(() => this._fetchOnce());
    this._pending = run.catch(() => undefined);
    return run;
  }

  private async _fetchOnce(): Promise<void> {
    const task = this._task.value || 'worker-0';
    const { service } = this._model;
    if (!this._complete) {
      const chunk = await service.getJobLogs(this.jobId, task, this._offset);
      if (task !== (this._task.value || 'worker-0')) {
        return;
      }
      if (chunk.content) {
        this._append(chunk.content);
      }
      this._offset = chunk.next_offset;
      this._complete = chunk.complete;
      this._status.textContent = chunk.complete
        ? this._trans.__('End of log')
        : '';
    }
    if (this._fetches++ % 3 === 0 || this._complete) {
      const metrics = await service.getJobMetrics(this.jobId);
      const names: Record<string, string> = {
        cpuUsage: this._trans.__('CPU'),
        memUsage: this._trans.__('Memory'),
        gpuUtil: this._trans.__('GPU'),
        gpuMemUsage: this._trans.__('GPU memory'),
        npuUtil: this._trans.__('NPU'),
        npuMemUsage: this._trans.__('NPU memory')
      };
      const label = (metric: string, unit: string) =>
        `${names[metric] ?? metric} (${unit})`;
      this._charts.replaceChildren(
        ...metrics.series
          .filter(s => s.task === task)
          .map(s => lineChart(s, label(s.metric, s.unit)))
      );
    }
    if (this._complete) {
      await this._poll.stop();
    }
  }

  private _append(text: string): void {
    this._log.append(text);
    if (this._log.textContent!.length > MAX_LOG_CHARS) {
      this._log.textContent = this._log.textContent!.slice(-MAX_LOG_CHARS / 2);
    }
    if (this._following) {
      this._log.scrollTop = this._log.scrollHeight;
    }
  }

  private _onScroll(): void {
    const atEnd =
      this._log.scrollTop + this._log.clientHeight >=
      this._log.scrollHeight - 4;
    if (!atEnd && this._following && this._log.dataset.jumping !== 'true') {
      this._setFollowing(false);
    }
  }

  private _toggleFollow(): void {
    this._setFollowing(!this._following);
  }

  private _setFollowing(follow: boolean): void {
    this._following = follow;
    this._follow.textContent = follow
      ? this._trans.__('Pause')
      : this._trans.__('Follow');
    this._follow.setAttribute('aria-pressed', String(follow));
    if (follow) {
      void this._jumpToEnd();
    }
  }

  private async _jumpToEnd(): Promise<void> {
    if (!this._complete) {
      await this._fetch();
    }
    this._log.dataset.jumping = 'true';
    this._log.scrollTop = this._log.scrollHeight;
    requestAnimationFrame(() => delete this._log.dataset.jumping);
  }

  private _switchTask(): void {
    this._log.textContent = '';
    this._offset = 0;
    this._complete = false;
    this._fetches = 0;
    void this._poll.start().then(() => this._poll.refresh());
  }

  private async _download(): Promise<void> {
    const task = this._task.value || 'worker-0';
    const parts: string[] = [];
    let offset = 0;
    for (;;) {
      const chunk = await this._model.service.getJobLogs(
        this.jobId,
        task,
        offset,
        1048576
      );
      parts.push(chunk.content);
      if (chunk.next_offset >= chunk.size || chunk.next_offset === offset) {
        break;
      }
      offset = chunk.next_offset;
    }
    const url = URL.createObjectURL(new Blob(parts, { type: 'text/plain' }));
    const link = h('a', {
      href: url,
      download: `${this.job?.name ?? this.jobId}-${task}.log`
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  private async _stopJob(): Promise<void> {
    this._stop.disabled = true;
    try {
      this._model.updateJob(await this._model.service.stopJob(this.jobId));
    } catch (error) {
      this._status.textContent = ModelArtsService.errorMessage(error);
      this._stop.disabled = false;
    }
  }

  private async _deleteJob(): Promise<void> {
    const job = this.job;
    const trans = this._trans;
    const result = await showDialog({
      title: trans.__('Delete job %1?', job?.name ?? this.jobId),
      body: trans.__('Its record, logs and code snapshot are removed.'),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Delete') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await this._model.service.deleteJob(this.jobId);
      this._model.removeJob(this.jobId);
      this.close();
    } catch (error) {
      this._status.textContent = ModelArtsService.errorMessage(error);
    }
  }

  private _model: ModelArtsModel;
  private _trans: TranslationBundle;
  private _job: IJob | null = null;
  private _header: HTMLElement;
  private _task: HTMLSelectElement;
  private _follow: HTMLButtonElement;
  private _stop: HTMLButtonElement;
  private _delete: HTMLButtonElement;
  private _status: HTMLElement;
  private _log: HTMLPreElement;
  private _charts: HTMLElement;
  private _poll: Poll;
  private _tasks: string[] = [];
  private _offset = 0;
  private _complete = false;
  private _following = true;
  private _fetches = 0;
  private _pending: Promise<void> = Promise.resolve();
}

/**
 * A namespace for JobView statics.
 */
export namespace JobView {
  /**
   * The options used to create a JobView.
   */
  export interface IOptions {
    /** The job id. */
    jobId: string;
    /** The shared model. */
    model: ModelArtsModel;
    /** The translation bundle. */
    trans: TranslationBundle;
  }
}
