import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  caretDownIcon,
  deleteIcon,
  downloadIcon,
  LabIcon,
  refreshIcon,
  searchIcon,
  stopIcon,
  Toolbar,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Poll } from '@lumino/polling';
import { Signal } from '@lumino/signaling';
import { PanelLayout, Widget } from '@lumino/widgets';

import { ILogGrowth, IModelArtsModel } from '../api/interfaces';
import { ModelArtsService } from '../api/service';
import { FINAL_PHASES, IJob, IJobSummary, IMetrics } from '../api/tokens';
import { formatDuration, formatTime, h } from '../ui/dom';
import { modelartsIcon } from '../ui/icons';
import { emptyChart, lineChart } from './chart';
import { LogView } from './log';

/**
 * Wrap long lines (Material's "wrap text", as Lab's own icons are drawn).
 */
const wrapIcon = new LabIcon({
  name: 'jupyter-modelarts:wrap',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" d="M4 19h6v-2H4v2zM20 5H4v2h16V5zm-3 6H4v2h13.25c1.1 0 2 .9 2 2s-.9 2-2 2H15v-2l-3 3 3 3v-2h2c2.21 0 4-1.79 4-4s-1.79-4-4-4z"/></svg>'
});

/**
 * How often the metrics of a running job are read while the view is seen.
 */
const METRICS_INTERVAL = 10000;

/**
 * How often the log is read while the event stream is down (pushed growth is missing then).
 */
const FALLBACK_INTERVAL = 2000;

function isFinal(job: { phase: string } | null): boolean {
  return !!job && (FINAL_PHASES as readonly string[]).includes(job.phase);
}

function summaryOf(job: IJob): IJobSummary {
  return {
    id: job.id,
    name: job.name,
    backend: job.backend,
    phase: job.phase,
    flavor: job.spec.flavor ?? '',
    nodes: job.spec.nodes,
    exit_code: job.exit_code,
    message: job.message,
    created_at: job.created_at,
    started_at: job.started_at,
    ended_at: job.ended_at,
    workspace_id: job.spec.workspace_id
  };
}

/**
 * The view of one job: its phase and facts, a toolbar (task picker when there are several
 * tasks, stop, delete, search, wrap, end, reload, download), the log of one task drawn like
 * notebook output, and its resource charts.
 *
 * The job's state comes from the shared model (pushed). The view reads only the log of the task
 * on screen (when it grows) and the metrics of a running job (every 10 s while seen). Closing it
 * disposes it: no poll, request or connection is left, and opening the job again makes a new
 * view.
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

    const layout = (this.layout = new PanelLayout());
    this._header = new Widget({ node: h('div') });
    this._header.addClass('jp-ModelArts-jobHeader');
    this._select = h('select', {
      class: 'jp-ModelArts-task',
      'aria-label': trans.__('Task'),
      title: trans.__('Task'),
      onchange: () => {
        this._log.setTask(this._select.value);
        this._renderCharts();
      }
    });
    this._picker = new Widget({ node: this._select });
    this._picker.hide();
    this._stop = new ToolbarButton({
      icon: stopIcon,
      tooltip: trans.__('Stop the job'),
      className: 'jp-ModelArts-stop',
      onClick: () => void this._stopJob()
    });
    this._delete = new ToolbarButton({
      icon: deleteIcon,
      tooltip: trans.__('Delete the job, its logs and code snapshot'),
      className: 'jp-ModelArts-delete',
      onClick: () => void this._deleteJob()
    });
    this._searchButton = new ToolbarButton({
      icon: searchIcon,
      tooltip: trans.__('Search the log'),
      className: 'jp-ModelArts-search',
      onClick: () => {
        if (this._log.searching) {
          this._log.closeSearch();
        } else {
          this._log.openSearch();
        }
      }
    });
    this._wrapButton = new ToolbarButton({
      icon: wrapIcon,
      tooltip: trans.__('Wrap long lines'),
      className: 'jp-ModelArts-wrap',
      onClick: () => {
        this._log.wrap = !this._log.wrap;
        this._wrapButton.pressed = this._log.wrap;
      }
    });
    const toolbar = new Toolbar();
    toolbar.addClass('jp-ModelArts-jobToolbar');
    toolbar.addItem('task', this._picker);
    toolbar.addItem('stop', this._stop);
    toolbar.addItem('delete', this._delete);
    toolbar.addItem('spacer', Toolbar.createSpacerItem());
    toolbar.addItem('search', this._searchButton);
    toolbar.addItem('wrap', this._wrapButton);
    toolbar.addItem(
      'end',
      new ToolbarButton({
        icon: caretDownIcon,
        tooltip: trans.__('Scroll to the end and follow'),
        className: 'jp-ModelArts-end',
        onClick: () => this._log.scrollToEnd()
      })
    );
    toolbar.addItem(
      'reload',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Reload the log and the metrics'),
        className: 'jp-ModelArts-reload',
        onClick: () => {
          void this._log.reload();
          void this._fetchMetrics();
        }
      })
    );
    toolbar.addItem(
      'download',
      new ToolbarButton({
        icon: downloadIcon,
        tooltip: trans.__('Download the whole log'),
        className: 'jp-ModelArts-download',
        onClick: () =>
          void this._log.download(
            `${this._summary?.name ?? this.jobId}-${this._log.task}.log`
          )
      })
    );
    this._log = new LogView({
      serverSettings: this._model.service.serverSettings,
      jobId: this.jobId,
      trans
    });
    this._log.searchToggled.connect(
      (_, open) => (this._searchButton.pressed = open),
      this
    );
    this._charts = new Widget({ node: h('div') });
    this._charts.addClass('jp-ModelArts-charts');
    layout.addWidget(this._header);
    layout.addWidget(toolbar);
    layout.addWidget(this._log);
    layout.addWidget(this._charts);
    this.node.addEventListener('keydown', this);

    this._metricsPoll = new Poll({
      auto: false,
      factory: () => this._fetchMetrics(),
      frequency: { interval: METRICS_INTERVAL, backoff: true, max: 60000 },
      name: `jupyter-modelarts:metrics:${options.jobId}`,
      standby: 'when-hidden'
    });
    this._logPoll = new Poll({
      auto: false,
      factory: async () => this._log.catchUp(),
      frequency: { interval: FALLBACK_INTERVAL, backoff: false },
      name: `jupyter-modelarts:log:${options.jobId}`,
      standby: 'when-hidden'
    });

    this._model.jobChanged.connect(this._onJobChanged, this);
    this._model.logGrew.connect(this._onLogGrew, this);
    this._model.tick.connect(this._onTick, this);
    this._model.changed.connect(this._syncPolls, this);
    this._summary = this._model.jobSummary(this.jobId);
    this._render();
    void this._load();
  }

  /**
   * The job shown.
   */
  readonly jobId: string;

  /**
   * The job as last reported, if known.
   */
  get job(): IJobSummary | null {
    return this._summary;
  }

  /**
   * Handle the view's key presses: Ctrl/Cmd+F searches the log.
   */
  handleEvent(event: Event): void {
    const key = event as KeyboardEvent;
    if (
      key.type === 'keydown' &&
      (key.ctrlKey || key.metaKey) &&
      key.key.toLowerCase() === 'f'
    ) {
      key.preventDefault();
      key.stopPropagation();
      this._log.openSearch();
    }
  }

  /**
   * Stop every poll and read, and disconnect from the model.
   */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.node.removeEventListener('keydown', this);
    this._metricsPoll.dispose();
    this._logPoll.dispose();
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._syncPolls();
    if (this._metricsStale) {
      void this._fetchMetrics();
    }
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._syncPolls();
  }

  protected onCloseRequest(msg: Message): void {
    super.onCloseRequest(msg);
    this.dispose();
  }

  private async _load(): Promise<void> {
    try {
      const job = await this._model.getJob(this.jobId);
      if (this.isDisposed) {
        return;
      }
      this._job = job;
      // A summary from the model is as new as this answer or newer.
      this._summary ??= summaryOf(job);
      this._error = '';
    } catch (error) {
      if (this.isDisposed) {
        return;
      }
      this._error = ModelArtsService.errorMessage(error, this._trans);
    }
    this._render();
    if (isFinal(this._summary)) {
      // A running job's metrics come with the poll `_render` started.
      void this._fetchMetrics();
    }
  }

  private _onJobChanged(_: IModelArtsModel, summary: IJobSummary): void {
    if (summary.id !== this.jobId) {
      return;
    }
    const ended = !isFinal(this._summary) && isFinal(summary);
    const phaseChanged = this._summary?.phase !== summary.phase;
    this._summary = summary;
    this._render();
    if (ended) {
      // The last bytes may be written after the last growth event.
      this._log.catchUp();
    }
    if (phaseChanged || ended) {
      void this._fetchMetrics();
    }
  }

  private _onLogGrew(_: IModelArtsModel, growth: ILogGrowth): void {
    if (growth.job_id === this.jobId && growth.task === this._log.task) {
      this._log.grew(growth.size);
    }
  }

  private _onTick(): void {
    if (this._duration && this.isVisible && !isFinal(this._summary)) {
      this._duration.textContent = this._durationText();
    }
  }

  /**
   * Run the metrics poll while the job runs and the view is seen; read the log on a timer only
   * while the event stream is down.
   */
  private _syncPolls(): void {
    if (this.isDisposed) {
      return;
    }
    const active = this.isVisible && !!this._summary && !isFinal(this._summary);
    void (active ? this._metricsPoll.start() : this._metricsPoll.stop());
    void (active && !this._model.live
      ? this._logPoll.start()
      : this._logPoll.stop());
  }

  private _tasks(): string[] {
    const tasks = this._model.jobTasks(this.jobId) ?? this._job?.tasks ?? [];
    if (tasks.length > 0) {
      return tasks.map(t => t.name);
    }
    // Before the tasks exist, the job's node count names them.
    const nodes = this._summary?.nodes ?? 1;
    return Array.from({ length: Math.max(1, nodes) }, (_, i) => `worker-${i}`);
  }

  private _durationText(): string {
    const job = this._summary;
    if (!job?.started_at) {
      return '';
    }
    const end = job.ended_at ?? (isFinal(job) ? job.started_at : Date.now());
    return formatDuration(end - job.started_at);
  }

  private _render(): void {
    const trans = this._trans;
    const job = this._summary;
    if (!job) {
      this._header.node.replaceChildren(
        h(
          'p',
          { class: this._error ? 'jp-ModelArts-error' : 'jp-ModelArts-sub' },
          this._error || trans.__('Loading…')
        )
      );
      return;
    }
    this.title.label = job.name;
    this.title.caption = `${job.name} (${job.phase})`;
    this._duration = h('span', {}, this._durationText());
    const facts: [string, Node | string][] = [
      [trans.__('Backend'), job.backend],
      [trans.__('Flavor'), job.flavor],
      [trans.__('Nodes'), String(job.nodes)],
      [trans.__('Submitted'), formatTime(job.created_at)],
      [trans.__('Started'), formatTime(job.started_at)],
      [trans.__('Duration'), this._duration]
    ];
    if (job.exit_code !== null) {
      facts.push([trans.__('Exit code'), String(job.exit_code)]);
    }
    const list = h('dl', { class: 'jp-ModelArts-jobFacts' });
    for (const [label, value] of facts) {
      if (value) {
        list.append(h('div', {}, h('dt', {}, label), h('dd', {}, value)));
      }
    }
    const message = this._job?.message || job.message;
    this._header.node.replaceChildren(
      h(
        'div',
        { class: 'jp-ModelArts-jobTitle' },
        h('h2', {}, job.name),
        h(
          'span',
          {
            class: 'jp-ModelArts-badge jp-ModelArts-jobPhase',
            'data-phase': job.phase
          },
          job.phase
        )
      ),
      list,
      ...[message, this._error]
        .filter(text => text)
        .map(text => h('p', { class: 'jp-ModelArts-error' }, text))
    );

    const tasks = this._tasks();
    if (tasks.join() !== this._taskNames.join()) {
      this._taskNames = tasks;
      const current = this._log.task;
      this._select.replaceChildren(
        ...tasks.map(name => h('option', { value: name }, name))
      );
      this._select.value = tasks.includes(current) ? current : tasks[0];
      this._picker.setHidden(tasks.length < 2);
      this._log.setTask(this._select.value);
    }
    this._stop.enabled = !isFinal(job) && job.phase !== 'Terminating';
    this._delete.enabled = isFinal(job);
    this._syncPolls();
  }

  private async _fetchMetrics(): Promise<void> {
    if (!this.isVisible || document.hidden) {
      this._metricsStale = true;
      return;
    }
    this._metricsStale = false;
    try {
      this._metrics = await this._model.service.getJobMetrics(this.jobId);
      this._metricsError = '';
    } catch (error) {
      this._metricsError = ModelArtsService.errorMessage(error, this._trans);
    }
    if (!this.isDisposed) {
      this._renderCharts();
    }
  }

  private _renderCharts(): void {
    const trans = this._trans;
    const names: Record<string, string> = {
      cpuUsage: trans.__('CPU'),
      memUsage: trans.__('Memory'),
      gpuUtil: trans.__('GPU'),
      gpuMemUsage: trans.__('GPU memory'),
      npuUtil: trans.__('NPU'),
      npuMemUsage: trans.__('NPU memory')
    };
    const ended = isFinal(this._summary);
    const message = ended
      ? trans.__('No samples were recorded.')
      : trans.__('Waiting for samples…');
    const series = (this._metrics?.series ?? []).filter(
      s => s.task === this._log.task
    );
    const charts = series.map(s =>
      lineChart(s, `${names[s.metric] ?? s.metric} (${s.unit})`, message)
    );
    if (charts.length === 0) {
      charts.push(emptyChart('', trans.__('Resources'), message));
    }
    this._charts.node.replaceChildren(
      ...charts,
      this._metricsError
        ? h('p', { class: 'jp-ModelArts-error' }, this._metricsError)
        : ''
    );
  }

  private async _stopJob(): Promise<void> {
    const trans = this._trans;
    const name = this._summary?.name ?? this.jobId;
    const result = await showDialog({
      title: trans.__('Stop job %1?', name),
      body: trans.__('Its tasks are terminated; the logs written so far stay.'),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Stop') })
      ]
    });
    if (!result.button.accept || this.isDisposed) {
      return;
    }
    this._stop.enabled = false;
    try {
      this._model.updateJob(await this._model.service.stopJob(this.jobId));
    } catch (error) {
      Notification.error(
        trans.__(
          'Could not stop %1: %2',
          name,
          ModelArtsService.errorMessage(error, this._trans)
        )
      );
      this._render();
    }
  }

  private async _deleteJob(): Promise<void> {
    const trans = this._trans;
    const name = this._summary?.name ?? this.jobId;
    const result = await showDialog({
      title: trans.__('Delete job %1?', name),
      body: trans.__('Its record, logs and code snapshot are removed.'),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Delete') })
      ]
    });
    if (!result.button.accept || this.isDisposed) {
      return;
    }
    try {
      await this._model.service.deleteJob(this.jobId);
      this._model.removeJob(this.jobId);
      this.close();
    } catch (error) {
      Notification.error(
        trans.__(
          'Could not delete %1: %2',
          name,
          ModelArtsService.errorMessage(error, this._trans)
        )
      );
    }
  }

  private _model: IModelArtsModel;
  private _trans: TranslationBundle;
  private _summary: IJobSummary | null;
  private _job: IJob | null = null;
  private _error = '';
  private _header: Widget;
  private _select: HTMLSelectElement;
  private _picker: Widget;
  private _taskNames: string[] = [];
  private _stop: ToolbarButton;
  private _delete: ToolbarButton;
  private _searchButton: ToolbarButton;
  private _wrapButton: ToolbarButton;
  private _duration: HTMLElement | null = null;
  private _log: LogView;
  private _charts: Widget;
  private _metrics: IMetrics | null = null;
  private _metricsError = '';
  private _metricsStale = false;
  private _metricsPoll: Poll;
  private _logPoll: Poll;
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
    model: IModelArtsModel;
    /** The translation bundle. */
    trans: TranslationBundle;
  }
}
