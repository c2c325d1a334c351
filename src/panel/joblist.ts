import { TranslationBundle } from '@jupyterlab/translation';
import { deleteIcon, launchIcon, stopIcon } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { IModelArtsModel } from '../api/interfaces';
import { FINAL_PHASES, IJobSummary, JOB_PHASES } from '../api/tokens';
import { CommandIDs } from '../commandids';
import {
  formatAgo,
  formatDuration,
  formatTime,
  h,
  iconButton
} from '../ui/dom';
import { IPanelContext, showPartError } from './section';

/**
 * Rows drawn beyond each end of the visible ones, so that a fast scroll shows no gap.
 */
const OVERSCAN = 8;

/**
 * Row heights in pixels: two lines in the sidebar, one in the wide view.
 */
const ROW_HEIGHT = { narrow: 44, wide: 28 };

/**
 * The orders the sidebar offers, as `key:order` and label.
 *
 * @param trans The translation bundle
 * @returns The orders
 */
function sorts(trans: TranslationBundle): [string, string][] {
  return [
    ['created:desc', trans.__('Newest first')],
    ['created:asc', trans.__('Oldest first')],
    ['name:asc', trans.__('Name A–Z')],
    ['name:desc', trans.__('Name Z–A')],
    ['phase:asc', trans.__('Phase')],
    ['duration:desc', trans.__('Longest first')],
    ['duration:asc', trans.__('Shortest first')]
  ];
}

/**
 * Whether a job has ended.
 *
 * @param job The job
 * @returns True in a final phase
 */
export function hasEnded(job: { phase: string }): boolean {
  return (FINAL_PHASES as readonly string[]).includes(job.phase);
}

/**
 * How long a job ran (or runs so far), as text; empty before it started.
 *
 * @param job The job
 * @param now The time now, epoch ms
 * @returns The text
 */
function durationOf(job: IJobSummary, now: number): string {
  if (!job.started_at) {
    return '';
  }
  const end = job.ended_at ?? (hasEnded(job) ? null : now);
  return end ? formatDuration(end - job.started_at) : '';
}

/**
 * A row of the list and the job it shows.
 */
interface IRow {
  node: HTMLElement;
  job: IJobSummary;
  time: HTMLElement;
  duration: HTMLElement;
}

/**
 * The training jobs, newest first by default: sortable, filtered by phase, paged from the
 * server as the list is scrolled, and drawn only where visible, so that thousands of jobs
 * scroll smoothly. Each row opens its job; hover or focus shows open, stop and delete, and
 * the context menu has them too. The sidebar shows two-line rows; the wide view (main area)
 * shows one line with more columns and sortable headers.
 */
export class JobList extends Widget {
  /**
   * Create the list.
   *
   * @param options The list options
   */
  constructor(options: JobList.IOptions) {
    super();
    const { context } = options;
    this._context = context;
    this._model = context.model;
    this._trans = context.trans;
    this._wide = options.wide ?? false;
    this._rowHeight = ROW_HEIGHT[this._wide ? 'wide' : 'narrow'];
    const trans = this._trans;
    this.addClass('jp-ModelArts-jobList');
    this.node.dataset.layout = this._wide ? 'wide' : 'narrow';

    this._phase = h(
      'select',
      {
        class: 'jp-mod-styled jp-ModelArts-phaseFilter',
        'aria-label': trans.__('Show jobs in phase'),
        title: trans.__('Show jobs in phase'),
        onchange: () => {
          this._scroller.scrollTop = 0;
          this._model.jobsPhase = this._phase
            .value as IModelArtsModel['jobsPhase'];
        }
      },
      h('option', { value: '' }, trans.__('All phases')),
      ...JOB_PHASES.map(p => h('option', { value: p }, p))
    );
    this._sort = h(
      'select',
      {
        class: 'jp-mod-styled jp-ModelArts-jobSort',
        'aria-label': trans.__('Order of the jobs'),
        title: trans.__('Order of the jobs'),
        onchange: () => {
          const [key, order] = this._sort.value.split(':');
          this._scroller.scrollTop = 0;
          this._model.jobsSort = {
            key: key as IModelArtsModel.IJobsSort['key'],
            order: order as IModelArtsModel.IJobsSort['order']
          };
        }
      },
      ...sorts(trans).map(([value, label]) => h('option', { value }, label))
    );
    const bar = h(
      'div',
      { class: 'jp-ModelArts-jobBar' },
      this._wide ? null : this._sort,
      this._phase
    );

    this._error = h('div', {
      class: 'jp-ModelArts-error jp-ModelArts-sectionError',
      role: 'alert',
      hidden: true
    });
    this._rows = h('div', { class: 'jp-ModelArts-jobRows', role: 'list' });
    this._empty = h('div', { class: 'jp-ModelArts-info jp-ModelArts-empty' });
    this._scroller = h(
      'div',
      { class: 'jp-ModelArts-jobScroll' },
      this._empty,
      this._rows
    );
    this._scroller.addEventListener('scroll', () => {
      this._paused = false;
      this._schedule();
    });
    this._rows.addEventListener('click', event => this._onRowClick(event));
    this._rows.addEventListener('keydown', event => this._onRowKey(event));

    this._count = h('span', { class: 'jp-ModelArts-jobCount' });
    this._more = h(
      'button',
      {
        type: 'button',
        class: 'jp-ModelArts-link jp-ModelArts-loadMore',
        onclick: () => {
          this._paused = false;
          this._loadMore();
        }
      },
      trans.__('Load more')
    );
    const footer = h(
      'div',
      { class: 'jp-ModelArts-jobFoot' },
      this._count,
      this._more
    );

    this.node.append(
      bar,
      this._error,
      this._wide ? this._header() : '',
      this._scroller,
      footer
    );

    this._model.partChanged.connect((_, part) => {
      if (part === 'jobs') {
        this._schedule();
      }
    }, this);
    this._model.jobChanged.connect((_, job) => {
      if (this._drawn.has(job.id)) {
        this._schedule();
      }
    }, this);
    this._model.tick.connect(this._tick, this);
  }

  /**
   * Disconnect from the model.
   */
  dispose(): void {
    if (this._frame) {
      cancelAnimationFrame(this._frame);
    }
    Signal.disconnectReceiver(this);
    super.dispose();
  }

  /**
   * Draw the visible rows now.
   */
  render(): void {
    this._frame = 0;
    if (!this.isVisible) {
      this._stale = true;
      return;
    }
    const model = this._model;
    const jobs = model.jobs;
    const trans = this._trans;
    const sort = model.jobsSort;
    this._sort.value = `${sort.key}:${sort.order}`;
    this._phase.value = model.jobsPhase;
    const failed = showPartError(this._error, this._context, 'jobs');
    this._updateHeader();

    const height = this._rowHeight;
    this._rows.style.height = `${jobs.length * height}px`;
    const view = this._scroller.clientHeight || height * 30;
    const top = this._scroller.scrollTop;
    const first = Math.max(0, Math.floor(top / height) - OVERSCAN);
    const last = Math.min(
      jobs.length,
      Math.ceil((top + view) / height) + OVERSCAN
    );
    const now = Date.now();
    const drawn = new Map<string, IRow>();
    for (let i = first; i < last; i++) {
      const job = jobs[i];
      let row = this._drawn.get(job.id);
      if (!row) {
        row = this._makeRow(job, now);
        this._rows.append(row.node);
      } else if (row.job !== job) {
        const fresh = this._makeRow(job, now);
        row.node.replaceWith(fresh.node);
        row = fresh;
      }
      row.node.style.transform = `translateY(${i * height}px)`;
      row.node.setAttribute('aria-posinset', String(i + 1));
      row.node.setAttribute('aria-setsize', String(model.jobsTotal));
      drawn.set(job.id, row);
      this._drawn.delete(job.id);
    }
    for (const row of this._drawn.values()) {
      row.node.remove();
    }
    this._drawn = drawn;

    const loading = !model.ready && jobs.length === 0;
    this._empty.hidden = jobs.length > 0 || failed;
    this._empty.textContent = loading
      ? trans.__('Loading…')
      : model.jobsPhase
        ? trans.__('No %1 jobs', model.jobsPhase)
        : trans.__('No jobs yet');
    const total = Math.max(model.jobsTotal, jobs.length);
    this._count.textContent =
      total === 0
        ? ''
        : jobs.length < total
          ? trans.__(
              '%1 of %2 jobs',
              jobs.length.toLocaleString(),
              total.toLocaleString()
            )
          : trans._n('%2 job', '%2 jobs', total, total.toLocaleString());
    this._more.hidden = jobs.length >= total;
    this._more.disabled = this._loading;

    // Scrolled near the end of what is loaded: fetch the next page. (Only once scrolled: a
    // list not laid out yet shows every row at once.)
    if (
      !this._paused &&
      top > 0 &&
      last >= jobs.length - OVERSCAN / 2 &&
      jobs.length < total
    ) {
      this._loadMore();
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._stale) {
      this._stale = false;
      this.render();
    }
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._schedule();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._schedule();
  }

  private _schedule(): void {
    if (!this._frame) {
      this._frame = requestAnimationFrame(() => this.render());
    }
  }

  private _loadMore(): void {
    if (this._loading) {
      return;
    }
    this._loading = true;
    this._more.disabled = true;
    this._more.textContent = this._trans.__('Loading…');
    this._model.loadMoreJobs().finally(() => {
      // A failed page shows as the jobs part's error: no more until the user asks.
      this._paused = !!this._model.error('jobs');
      this._loading = false;
      this._more.textContent = this._trans.__('Load more');
      this._schedule();
    });
  }

  private _tick(): void {
    if (!this.isVisible) {
      return;
    }
    const now = Date.now();
    for (const row of this._drawn.values()) {
      row.time.textContent = formatAgo(row.job.created_at, now);
      if (!hasEnded(row.job)) {
        row.duration.textContent = durationOf(row.job, now);
      }
    }
  }

  private _makeRow(job: IJobSummary, now: number): IRow {
    const trans = this._trans;
    const ended = hasEnded(job);
    const badge = h(
      'span',
      { class: 'jp-ModelArts-badge', 'data-phase': job.phase },
      job.phase
    );
    const time = h(
      'span',
      {
        class: 'jp-ModelArts-jobTime',
        title: trans.__('Submitted %1', formatTime(job.created_at))
      },
      formatAgo(job.created_at, now)
    );
    const duration = h(
      'span',
      { class: 'jp-ModelArts-jobDuration' },
      durationOf(job, now)
    );
    const name = h('span', { class: 'jp-ModelArts-jobName' }, job.name);
    const actions = h(
      'span',
      { class: 'jp-ModelArts-jobActions' },
      iconButton(launchIcon, trans.__('Open %1', job.name), null, {
        class: 'jp-ModelArts-jobOpen',
        'data-action': 'open',
        tabindex: -1
      }),
      iconButton(stopIcon, trans.__('Stop %1', job.name), null, {
        class: 'jp-ModelArts-jobStop',
        'data-action': 'stop',
        disabled: ended || job.phase === 'Terminating',
        tabindex: -1
      }),
      iconButton(deleteIcon, trans.__('Delete %1', job.name), null, {
        class: 'jp-ModelArts-jobDelete',
        'data-action': 'delete',
        disabled: !ended,
        tabindex: -1
      })
    );
    const flavor = job.flavor || job.backend;
    const tooltip = [
      `${job.name} (${job.id})`,
      `${job.phase}${job.exit_code !== null ? ` · exit ${job.exit_code}` : ''}`,
      job.message
    ]
      .filter(Boolean)
      .join('\n');
    const attrs = {
      class: 'jp-ModelArts-job',
      role: 'listitem',
      tabindex: 0,
      title: tooltip,
      'data-id': job.id,
      'data-phase': job.phase,
      style: `height: ${this._rowHeight}px`
    };
    const node = this._wide
      ? h(
          'div',
          attrs,
          name,
          h('span', { class: 'jp-ModelArts-jobPhase' }, badge),
          time,
          h(
            'span',
            { class: 'jp-ModelArts-jobStarted' },
            formatTime(job.started_at)
          ),
          duration,
          h('span', { class: 'jp-ModelArts-jobFlavor' }, flavor),
          h('span', { class: 'jp-ModelArts-jobNodes' }, String(job.nodes)),
          h('span', { class: 'jp-ModelArts-jobBackend' }, job.backend),
          h('span', { class: 'jp-ModelArts-jobMessage' }, job.message),
          actions
        )
      : h(
          'div',
          attrs,
          h('div', { class: 'jp-ModelArts-jobLine' }, name, time),
          h(
            'div',
            { class: 'jp-ModelArts-jobLine jp-ModelArts-sub' },
            badge,
            h(
              'span',
              { class: 'jp-ModelArts-jobMeta' },
              job.nodes > 1 ? `${flavor} × ${job.nodes}` : flavor
            ),
            duration
          ),
          actions
        );
    return { node, job, time, duration };
  }

  private _header(): HTMLElement {
    const trans = this._trans;
    const column = (
      label: string,
      cls: string,
      key?: IModelArtsModel.IJobsSort['key']
    ) =>
      key
        ? h(
            'button',
            {
              type: 'button',
              class: `jp-ModelArts-jobHeadCell ${cls}`,
              'data-sort': key,
              onclick: () => {
                const sort = this._model.jobsSort;
                this._scroller.scrollTop = 0;
                // Names and phases read A to Z first, times and durations newest first.
                const first =
                  key === 'name' || key === 'phase' ? 'asc' : 'desc';
                const other = first === 'asc' ? 'desc' : 'asc';
                this._model.jobsSort = {
                  key,
                  order:
                    sort.key === key && sort.order === first ? other : first
                };
              }
            },
            label
          )
        : h('span', { class: `jp-ModelArts-jobHeadCell ${cls}` }, label);
    this._head = h(
      'div',
      { class: 'jp-ModelArts-jobHead', role: 'presentation' },
      column(trans.__('Name'), 'jp-ModelArts-jobName', 'name'),
      column(trans.__('Phase'), 'jp-ModelArts-jobPhase', 'phase'),
      column(trans.__('Submitted'), 'jp-ModelArts-jobTime', 'created'),
      column(trans.__('Started'), 'jp-ModelArts-jobStarted'),
      column(trans.__('Duration'), 'jp-ModelArts-jobDuration', 'duration'),
      column(trans.__('Flavor'), 'jp-ModelArts-jobFlavor'),
      column(trans.__('Nodes'), 'jp-ModelArts-jobNodes'),
      column(trans.__('Backend'), 'jp-ModelArts-jobBackend'),
      column(trans.__('Message'), 'jp-ModelArts-jobMessage'),
      h('span', { class: 'jp-ModelArts-jobActions' })
    );
    return this._head;
  }

  private _updateHeader(): void {
    if (!this._head) {
      return;
    }
    const sort = this._model.jobsSort;
    for (const cell of this._head.querySelectorAll<HTMLElement>(
      '[data-sort]'
    )) {
      const active = cell.dataset.sort === sort.key;
      cell.setAttribute(
        'aria-sort',
        active ? (sort.order === 'asc' ? 'ascending' : 'descending') : 'none'
      );
    }
  }

  private _onRowClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const row = target.closest<HTMLElement>('.jp-ModelArts-job');
    const id = row?.dataset.id;
    if (!id) {
      return;
    }
    const action = target.closest<HTMLElement>('[data-action]');
    if (action?.hasAttribute('disabled')) {
      return;
    }
    const commands = this._context.commands;
    switch (action?.dataset.action ?? 'open') {
      case 'stop':
        void commands.execute(CommandIDs.stopJob, { id });
        break;
      case 'delete':
        void commands.execute(CommandIDs.deleteJob, { id });
        break;
      default:
        this._context.openJob(id);
    }
  }

  private _onRowKey(event: KeyboardEvent): void {
    const row = event.target as HTMLElement;
    if (!row.classList.contains('jp-ModelArts-job')) {
      return;
    }
    const id = row.dataset.id!;
    const step = (delta: number) => {
      const jobs = this._model.jobs;
      const index = jobs.findIndex(j => j.id === id) + delta;
      if (index < 0 || index >= jobs.length) {
        return;
      }
      // Bring the neighbour into view (drawing it), then focus it.
      const height = this._rowHeight;
      const top = index * height;
      const scroller = this._scroller;
      if (top < scroller.scrollTop) {
        scroller.scrollTop = top;
      } else if (top + height > scroller.scrollTop + scroller.clientHeight) {
        scroller.scrollTop = top + height - scroller.clientHeight;
      }
      this.render();
      this._drawn.get(jobs[index].id)?.node.focus();
    };
    switch (event.key) {
      case 'Enter':
        this._context.openJob(id);
        break;
      case 'Delete':
        void this._context.commands.execute(CommandIDs.deleteJob, { id });
        break;
      case 'ArrowDown':
        step(1);
        break;
      case 'ArrowUp':
        step(-1);
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  private _context: IPanelContext;
  private _model: IModelArtsModel;
  private _trans: TranslationBundle;
  private _wide: boolean;
  private _rowHeight: number;
  private _phase: HTMLSelectElement;
  private _sort: HTMLSelectElement;
  private _head: HTMLElement | null = null;
  private _error: HTMLElement;
  private _scroller: HTMLElement;
  private _rows: HTMLElement;
  private _empty: HTMLElement;
  private _count: HTMLElement;
  private _more: HTMLButtonElement;
  private _drawn = new Map<string, IRow>();
  private _frame = 0;
  private _loading = false;
  private _paused = false;
  private _stale = false;
}

/**
 * A namespace for JobList statics.
 */
export namespace JobList {
  /**
   * The options of a job list.
   */
  export interface IOptions {
    /** What the panel's parts share. */
    context: IPanelContext;
    /** One line per job with more columns (the main-area view); two lines otherwise. */
    wide?: boolean;
  }
}
