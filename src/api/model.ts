import type { Event } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import { IPoll, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { Countdown } from './countdown';
import { ILogGrowth, IModelArtsModel, ModelPart } from './interfaces';
import { ModelArtsService } from './service';
import {
  FINAL_PHASES,
  ICheck,
  IDoctorReport,
  IImage,
  IInstance,
  IJob,
  IJobSummary,
  ILease,
  IMount,
  IMountRequest,
  ITask,
  IWorkspace,
  JobPhase
} from './tokens';

/**
 * The schema ids of the events the server publishes on Jupyter's event bus.
 */
export namespace EventSchemas {
  const base = 'https://jupyter-modelarts.github.io/events/';
  /** `{lease}` */
  export const lease = `${base}lease/v1`;
  /** `{mount}`; status UNMOUNTED: gone. */
  export const mount = `${base}mount/v1`;
  /** `{image}` */
  export const image = `${base}image/v1`;
  /** `{action: changed | deleted, job, tasks}` */
  export const job = `${base}job/v1`;
  /** `{job_id, task, size}` */
  export const log = `${base}log/v1`;
  /** `{at}`, every 30 s. */
  export const heartbeat = `${base}heartbeat/v1`;
  /** `{report}`: a run of the checks started (`running`) or ended. */
  export const doctor = `${base}doctor/v1`;
  /** `{workspace}`: the current workspace changed. */
  export const workspace = `${base}workspace/v1`;
}

/**
 * Whether a job has reached a final phase.
 *
 * @param job The job or its summary
 * @returns True for Completed, Failed, Terminated and Abnormal
 */
export function isFinal(job: { phase: JobPhase }): boolean {
  return FINAL_PHASES.includes(job.phase);
}

/**
 * How far along its life a phase is: a job never goes back a stage.
 *
 * @param phase The phase
 * @returns 0 before running, 1 running, 2 terminating, 3 ended
 */
function phaseStage(phase: JobPhase): number {
  if (FINAL_PHASES.includes(phase)) {
    return 3;
  }
  return phase === 'Terminating' ? 2 : phase === 'Running' ? 1 : 0;
}

/**
 * The summary of a job (what `GET /jobs` lists and job events carry).
 *
 * @param job A whole job or a summary
 * @returns The summary
 */
export function toSummary(job: IJob | IJobSummary): IJobSummary {
  if (!('spec' in job)) {
    return job;
  }
  return {
    id: job.id,
    name: job.name,
    backend: job.backend,
    phase: job.phase,
    flavor: job.spec.flavor ?? '',
    nodes: job.spec.nodes ?? job.tasks.length,
    exit_code: job.exit_code,
    message: (job.message ?? '').slice(0, 200),
    created_at: job.created_at,
    started_at: job.started_at,
    ended_at: job.ended_at,
    workspace_id: job.spec.workspace_id
  };
}

/**
 * Compare two jobs in a list order, as the server sorts them: by the key (names ignoring
 * case; a job that never started has no duration and comes last either way), then by
 * creation time and id in the same direction.
 *
 * @param sort The key and the order
 * @param now The time running jobs' durations are counted to
 * @returns A comparator
 */
export function jobComparator(
  sort: IModelArtsModel.IJobsSort,
  now: number = Date.now()
): (a: IJobSummary, b: IJobSummary) => number {
  const key = (j: IJobSummary): number | string | null => {
    switch (sort.key) {
      case 'name':
        return j.name.toLowerCase();
      case 'phase':
        return j.phase;
      case 'duration':
        return j.started_at === null
          ? null
          : (j.ended_at ?? now) - j.started_at;
      default:
        return j.created_at;
    }
  };
  const sign = sort.order === 'asc' ? 1 : -1;
  const compare = (x: number | string, y: number | string) =>
    x === y ? 0 : (x < y ? -1 : 1) * sign;
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka === null || kb === null) {
      if (ka !== kb) {
        return ka === null ? 1 : -1;
      }
    } else if (ka !== kb) {
      return compare(ka, kb);
    }
    return compare(a.created_at, b.created_at) || compare(a.id, b.id);
  };
}

/**
 * The one state of a browser tab (see `IModelArtsModel`).
 *
 * It loads every part once, then applies the events the server pushes. Heartbeats (every
 * 30 s) tell it the stream is alive; after `staleAfter` ms without any message it polls every
 * `pollInterval` seconds (standing by while the tab is hidden) until a message arrives, then
 * refreshes once. It also refreshes when the tab comes back to the front.
 */
export class ModelArtsModel implements IModelArtsModel {
  /**
   * Create the model; it loads and listens at once unless `autoStart` is false.
   *
   * @param options The model options
   */
  constructor(options: ModelArtsModel.IOptions) {
    this.service = options.service;
    this._trans = options.trans;
    this._events = options.events ?? null;
    this._interval = (options.pollInterval ?? 10) * 1000;
    this._staleAfter = options.staleAfter ?? 75000;
    this._gapAfter = options.gapAfter ?? 45000;
    this._pageSize = options.pageSize ?? 50;
    this._poll = new Poll({
      auto: false,
      factory: () => this._pollOnce(),
      frequency: this._frequency(),
      name: 'jupyter-modelarts:fallback',
      standby: 'when-hidden'
    });
    if (options.autoStart ?? true) {
      this.start();
    }
  }

  /**
   * Start listening (and load every part). Idempotent.
   */
  start(): void {
    if (this._started) {
      return;
    }
    this._started = true;
    this._lastMessage = Date.now();
    this._ticker = window.setInterval(() => this._onTick(), 1000);
    document.addEventListener('visibilitychange', this);
    if (this._events) {
      this._events.stream.connect(this._onEvent, this);
      void this.refresh();
    } else {
      this._live = false;
      void this._poll.start();
    }
  }

  readonly service: ModelArtsService;
  readonly countdown = new Countdown();

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get partChanged(): ISignal<this, ModelPart> {
    return this._partChanged;
  }
  get jobChanged(): ISignal<this, IJobSummary> {
    return this._jobChanged;
  }
  get logGrew(): ISignal<this, ILogGrowth> {
    return this._logGrew;
  }
  get tick(): ISignal<this, void> {
    return this._tick;
  }
  get jobEnded(): ISignal<this, IJobSummary> {
    return this._jobEnded;
  }
  get imageEnded(): ISignal<this, IImage> {
    return this._imageEnded;
  }
  get mountFailed(): ISignal<this, IMount> {
    return this._mountFailed;
  }

  get ready(): boolean {
    return this._ready;
  }
  get live(): boolean {
    return this._live;
  }
  get instance(): IInstance | null {
    return this._instance;
  }
  get lease(): ILease | null {
    return this._lease;
  }
  get mounts(): readonly IMount[] {
    return this._mounts;
  }
  get images(): readonly IImage[] {
    return this._images;
  }
  get workspaces(): readonly IWorkspace[] {
    return this._workspaces;
  }
  get workspace(): IWorkspace | null {
    return this._workspaces.find(w => w.id === this._workspaceId) ?? null;
  }
  get doctor(): IDoctorReport | null {
    return this._doctor;
  }
  get doctorRunning(): boolean {
    return this._doctorPosts > 0 || !!this._doctor?.running;
  }
  get failingChecks(): readonly ICheck[] {
    return this._doctor?.checks.filter(c => c.status === 'fail') ?? [];
  }
  get jobs(): readonly IJobSummary[] {
    if (!this._jobsList) {
      this._jobsList = this._jobIds.map(id => this._summaries.get(id)!);
    }
    return this._jobsList;
  }
  get jobsTotal(): number {
    return this._jobsTotal;
  }

  get jobsSort(): IModelArtsModel.IJobsSort {
    return this._sort;
  }
  set jobsSort(sort: IModelArtsModel.IJobsSort) {
    if (sort.key === this._sort.key && sort.order === this._sort.order) {
      return;
    }
    this._sort = { key: sort.key, order: sort.order };
    void this._loadJobs(true);
  }

  get jobsPhase(): JobPhase | '' {
    return this._phase;
  }
  set jobsPhase(phase: JobPhase | '') {
    if (phase === this._phase) {
      return;
    }
    this._phase = phase;
    void this._loadJobs(true);
  }

  /**
   * Seconds between polls while the event stream is down.
   */
  get pollInterval(): number {
    return this._interval / 1000;
  }
  set pollInterval(seconds: number) {
    this._interval = Math.max(1, seconds) * 1000;
    this._poll.frequency = this._frequency();
  }

  error(part: ModelPart): string | null {
    return this._errors.get(part) ?? null;
  }

  async loadMoreJobs(): Promise<void> {
    if (this._jobIds.length < this._jobsTotal) {
      await this._loadJobs(false);
    }
  }

  jobSummary(id: string): IJobSummary | null {
    return this._summaries.get(id) ?? null;
  }

  jobTasks(id: string): readonly ITask[] | null {
    return this._tasks.get(id) ?? null;
  }

  async getJob(id: string): Promise<IJob> {
    const job = await this.service.getJob(id);
    this._followed.add(id);
    this.updateJob(job);
    return job;
  }

  refresh(): Promise<void> {
    if (!this._refreshing) {
      this._refreshing = this._refreshAll().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  loadDoctor(): Promise<void> {
    this._doctorWanted = true;
    return this._load(
      'doctor',
      () => this.service.getDoctor(),
      report => this._applyDoctor(report)
    );
  }

  async runDoctor(): Promise<void> {
    this._doctorWanted = true;
    this._doctorPosts++;
    this._emit('doctor');
    try {
      await this._load(
        'doctor',
        () => this.service.runDoctor(),
        report => this._applyDoctor(report)
      );
    } finally {
      this._doctorPosts--;
      this._emit('doctor');
    }
  }

  async setCurrentWorkspace(id: string): Promise<IWorkspace> {
    const workspace = await this.service.setCurrentWorkspace(id);
    this._applyWorkspace(workspace);
    this._emit('workspaces');
    return workspace;
  }

  async renew(hours: number, kind?: 'TIMING' | 'IDLE'): Promise<ILease> {
    const lease = await this.service.renewLease(Math.round(hours * 3600), kind);
    this._applyLease(lease, Date.now());
    this._emit('lease');
    return lease;
  }

  async noteActivity(): Promise<void> {
    await this.service.noteActivity();
  }

  async mount(request: IMountRequest): Promise<IMount> {
    const mount = await this.service.createMount(request);
    this._applyMount(mount);
    this._emit('mounts');
    return mount;
  }

  async unmount(id: string): Promise<void> {
    this._applyMount(await this.service.deleteMount(id));
    this._emit('mounts');
  }

  addImage(image: IImage): void {
    this._applyImage(image);
    this._emit('images');
  }

  updateJob(job: IJob | IJobSummary): void {
    // An event may have arrived while the answer was on its way: phases only move on, so an
    // answer behind what is known is not applied (a stop's Terminating would undo a pushed
    // Terminated).
    const known = this._summaries.get(job.id);
    if (known && phaseStage(job.phase) < phaseStage(known.phase)) {
      return;
    }
    this._applyJob(toSummary(job), 'tasks' in job ? job.tasks : undefined);
  }

  removeJob(id: string): void {
    this._deleteJob(id);
  }

  /**
   * Handle `visibilitychange`: a tab brought to the front refreshes once.
   *
   * @param event The DOM event
   */
  handleEvent(event: Event): void {
    if (event.type === 'visibilitychange' && !document.hidden) {
      void this.refresh();
    }
  }

  /**
   * Whether the model is disposed.
   */
  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * Stop listening, polling and ticking.
   */
  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poll.dispose();
    window.clearInterval(this._ticker);
    document.removeEventListener('visibilitychange', this);
    this._events?.stream.disconnect(this._onEvent, this);
    Signal.clearData(this);
  }

  private _frequency(): IPoll.Frequency {
    // Backs off while the server is unreachable, to five minutes (or the interval if longer).
    return {
      interval: this._interval,
      backoff: true,
      max: Math.max(300000, this._interval)
    };
  }

  private _onTick(): void {
    if (this._live && Date.now() - this._lastMessage > this._staleAfter) {
      this._live = false;
      void this._poll.start();
      this._changed.emit();
    }
    this._tick.emit();
  }

  private _onEvent(_: unknown, emission: Event.Emission): void {
    const data = emission as Record<string, any>;
    let part: ModelPart | null = null;
    const now = Date.now();
    switch (emission.schema_id) {
      case EventSchemas.heartbeat:
        break;
      case EventSchemas.lease:
        part = 'lease';
        this._applyLease(data.lease, now);
        this._buffer('lease', () => this._applyLease(data.lease, now));
        break;
      case EventSchemas.mount:
        part = 'mounts';
        this._applyMount(data.mount);
        this._buffer('mounts', () => this._applyMount(data.mount));
        break;
      case EventSchemas.image:
        part = 'images';
        this._applyImage(data.image);
        this._buffer('images', () => this._applyImage(data.image));
        break;
      case EventSchemas.job: {
        const apply = () =>
          data.action === 'deleted'
            ? this._deleteJob(data.job.id)
            : this._applyJob(data.job, data.tasks);
        apply();
        this._buffer('jobs', apply);
        break;
      }
      case EventSchemas.doctor:
        part = 'doctor';
        this._applyDoctor(data.report);
        this._buffer('doctor', () => this._applyDoctor(data.report));
        break;
      case EventSchemas.workspace:
        part = 'workspaces';
        this._applyWorkspace(data.workspace);
        this._buffer('workspaces', () => this._applyWorkspace(data.workspace));
        break;
      case EventSchemas.log:
        this._logGrew.emit({
          job_id: data.job_id,
          task: data.task,
          size: data.size
        });
        break;
      default:
        return; // Another extension's event.
    }
    const silent = now - this._lastMessage;
    this._lastMessage = now;
    if (!this._live) {
      // The stream is back: stop polling and catch up with what was missed.
      this._live = true;
      this._missed = true;
      void this._poll.stop();
      void this.refresh();
      this._changed.emit();
    } else if (silent > this._gapAfter) {
      // A heartbeat went missing: the socket reconnected, and nothing is replayed.
      this._missed = true;
      void this.refresh();
    }
    if (part) {
      this._emit(part);
    }
  }

  private async _refreshAll(): Promise<void> {
    // The workspaces change only by a pushed event: asked again when one may have been missed.
    const workspaces =
      this._workspaceId === null ||
      this._missed ||
      this._errors.has('workspaces');
    this._missed = false;
    if (this._doctorWanted) {
      // Not awaited: the first run of the checks may take long.
      void this.loadDoctor();
    }
    await Promise.all([
      workspaces
        ? this._load(
            'workspaces',
            () => this.service.listWorkspaces(),
            list => {
              this._workspaces = list.workspaces;
              this._setCurrent(list.current);
            }
          )
        : Promise.resolve(),
      this._instance && !this._errors.has('instance')
        ? Promise.resolve()
        : this._load(
            'instance',
            () => this.service.getInstance(),
            instance => {
              this._instance = instance;
            }
          ),
      this._load(
        'lease',
        () => this.service.getLease(),
        (lease, at) => this._applyLease(lease, at)
      ),
      this._load(
        'mounts',
        () => this.service.listMounts(),
        mounts => this._setMounts(mounts)
      ),
      this._loadImages(),
      this._loadJobs(true)
    ]);
    if (!this._ready) {
      this._ready = true;
      this._changed.emit();
    }
  }

  /**
   * One round of the fallback poll: every part, and the jobs views follow.
   */
  private async _pollOnce(): Promise<void> {
    const followed = [...this._followed].filter(id => {
      const job = this._summaries.get(id);
      return job && !isFinal(job);
    });
    await Promise.all([
      this.refresh(),
      ...followed.map(id => this.getJob(id).catch(() => undefined))
    ]);
    if (this._errors.size >= 5) {
      throw new Error(this._errors.get('lease') ?? 'unreachable');
    }
  }

  /**
   * Fetch one part; events of that part that arrive meanwhile are applied again after the
   * answer, which may be older than them.
   */
  private async _load<T>(
    part: ModelPart,
    fetch: () => Promise<T>,
    apply: (value: T, at: number) => void
  ): Promise<void> {
    const replay: (() => void)[] = [];
    let buffers = this._replays.get(part);
    if (!buffers) {
      buffers = new Set();
      this._replays.set(part, buffers);
    }
    buffers.add(replay);
    try {
      const value = await fetch();
      apply(value, Date.now());
      replay.forEach(f => f());
      this._errors.delete(part);
    } catch (error) {
      this._errors.set(part, ModelArtsService.errorMessage(error, this._trans));
    } finally {
      buffers.delete(replay);
    }
    this._emit(part);
  }

  private _buffer(part: ModelPart, apply: () => void): void {
    for (const replay of this._replays.get(part) ?? []) {
      replay.push(apply);
    }
  }

  private _loadJobs(reset: boolean): Promise<void> {
    const offset = reset ? 0 : this._jobIds.length;
    const limit = reset
      ? Math.min(500, Math.max(this._pageSize, this._jobIds.length))
      : this._pageSize;
    const sort = this._sort;
    const phase = this._phase;
    const generation = this._workspaceGeneration;
    return this._load(
      'jobs',
      () =>
        this.service.listJobs({
          offset,
          limit,
          sort: sort.key,
          order: sort.order,
          phase
        }),
      page => {
        if (
          sort !== this._sort ||
          phase !== this._phase ||
          generation !== this._workspaceGeneration
        ) {
          return; // The order, the filter or the workspace changed meanwhile.
        }
        const ids = reset ? [] : [...this._jobIds];
        const seen = new Set(ids);
        for (const job of page.jobs) {
          this._noteJob(job);
          this._summaries.set(job.id, job);
          if (!seen.has(job.id)) {
            seen.add(job.id);
            ids.push(job.id);
          }
        }
        this._jobIds = ids;
        this._jobsTotal = Math.max(page.total, ids.length);
      }
    );
  }

  private _loadImages(): Promise<void> {
    const generation = this._workspaceGeneration;
    return this._load(
      'images',
      () => this.service.listImages(),
      images => {
        if (generation === this._workspaceGeneration) {
          this._setImages(images);
        }
      }
    );
  }

  private _applyDoctor(report: IDoctorReport): void {
    const known = this._doctor?.checked_at ?? null;
    if (
      known !== null &&
      report.checked_at !== null &&
      report.checked_at < known
    ) {
      return; // An answer older than a pushed report.
    }
    this._doctor = report;
  }

  private _applyWorkspace(workspace: IWorkspace): void {
    const others = this._workspaces.filter(w => w.id !== workspace.id);
    this._workspaces =
      others.length === this._workspaces.length
        ? [...others, workspace]
        : this._workspaces.map(w => (w.id === workspace.id ? workspace : w));
    this._setCurrent(workspace.id);
  }

  /**
   * Take the server's current workspace: when it changed, the jobs and images lists (which the
   * server answers for the current one) reload.
   */
  private _setCurrent(id: string): void {
    const before = this._workspaceId;
    this._workspaceId = id;
    if (before !== null && before !== id) {
      this._workspaceGeneration++;
      void this._loadJobs(true);
      void this._loadImages();
    }
  }

  /**
   * Whether a job or image belongs in the lists (any, before the workspace is known).
   */
  private _inWorkspace(item: { workspace_id: string }): boolean {
    return (
      this._workspaceId === null || item.workspace_id === this._workspaceId
    );
  }

  private _applyLease(lease: ILease, at: number): void {
    this._lease = lease;
    this.countdown.sync(lease, at);
  }

  private _applyMount(mount: IMount): void {
    const before = this._mounts.find(m => m.id === mount.id);
    this._noteMount(mount, before);
    const others = this._mounts.filter(m => m.id !== mount.id);
    this._mounts =
      mount.status === 'UNMOUNTED'
        ? others
        : before
          ? this._mounts.map(m => (m.id === mount.id ? mount : m))
          : [...others, mount];
  }

  private _setMounts(mounts: IMount[]): void {
    for (const mount of mounts) {
      this._noteMount(
        mount,
        this._mounts.find(m => m.id === mount.id)
      );
    }
    this._mounts = mounts.filter(m => m.status !== 'UNMOUNTED');
  }

  private _noteMount(mount: IMount, before: IMount | undefined): void {
    const failed =
      mount.status === 'MOUNT_FAILED' || mount.status === 'UNMOUNT_FAILED';
    const key = `mount:${mount.id}:${mount.status}:${mount.updated_at}`;
    if (
      failed &&
      this._ready &&
      before?.status !== mount.status &&
      !this._announced.has(key)
    ) {
      this._announced.add(key);
      this._mountFailed.emit(mount);
    }
  }

  private _applyImage(image: IImage): void {
    this._noteImage(image);
    const others = this._images.filter(i => i.id !== image.id);
    this._images = this._inWorkspace(image)
      ? [image, ...others].sort((a, b) => b.created_at - a.created_at)
      : others;
  }

  private _setImages(images: IImage[]): void {
    images.forEach(image => this._noteImage(image));
    this._images = [...images].sort((a, b) => b.created_at - a.created_at);
  }

  private _noteImage(image: IImage): void {
    const ended = image.status === 'ACTIVE' || image.status === 'CREATE_FAILED';
    const key = `image:${image.id}`;
    if (!ended) {
      this._watched.add(key);
      return;
    }
    const known = this._images.some(i => i.id === image.id);
    if (
      this._ready &&
      !this._announced.has(key) &&
      (this._watched.has(key) || (!known && this._isNew(image)))
    ) {
      this._announced.add(key);
      this._imageEnded.emit(image);
    }
  }

  /**
   * Note a job that reached a final phase: announced once, if it was seen unfinished or
   * submitted after this model started (a job from a cell may start and end unseen).
   */
  private _noteJob(job: IJobSummary): void {
    if (!isFinal(job)) {
      this._watched.add(job.id);
      return;
    }
    const known = this._summaries.has(job.id);
    if (
      this._ready &&
      !this._announced.has(job.id) &&
      (this._watched.has(job.id) || (!known && this._isNew(job)))
    ) {
      this._announced.add(job.id);
      this._jobEnded.emit(job);
    }
  }

  /**
   * Take a job's new summary (and tasks): update it where it is listed, insert a new one where
   * the order puts it in the loaded range, drop one that left the phase filter.
   */
  private _applyJob(job: IJobSummary, tasks?: ITask[]): void {
    const known = this._summaries.has(job.id);
    this._noteJob(job);
    this._summaries.set(job.id, job);
    if (tasks) {
      this._tasks.set(job.id, tasks);
    }
    const listed = this._jobIds.includes(job.id);
    const matches =
      (!this._phase || job.phase === this._phase) && this._inWorkspace(job);
    if (listed && !matches) {
      this._jobIds = this._jobIds.filter(id => id !== job.id);
      this._jobsTotal = Math.max(0, this._jobsTotal - 1);
    } else if (!listed && matches) {
      const compare = jobComparator(this._sort);
      const others = this._jobIds.map(id => this._summaries.get(id)!);
      let index = others.findIndex(other => compare(job, other) < 0);
      const allLoaded = this._jobIds.length >= this._jobsTotal;
      if (index < 0 && allLoaded) {
        index = others.length;
      }
      if (index >= 0) {
        this._jobIds = [
          ...this._jobIds.slice(0, index),
          job.id,
          ...this._jobIds.slice(index)
        ];
      }
      if (index >= 0 || !known) {
        this._jobsTotal += 1;
      }
    }
    this._jobsList = null;
    this._jobChanged.emit(job);
    this._emit('jobs');
  }

  private _deleteJob(id: string): void {
    const job = this._summaries.get(id);
    if (this._jobIds.includes(id)) {
      this._jobIds = this._jobIds.filter(j => j !== id);
      this._jobsTotal = Math.max(0, this._jobsTotal - 1);
    }
    this._summaries.delete(id);
    this._tasks.delete(id);
    this._followed.delete(id);
    this._watched.delete(id);
    this._jobsList = null;
    if (job) {
      this._jobChanged.emit(job);
    }
    this._emit('jobs');
  }

  private _isNew(item: { created_at: number }): boolean {
    return item.created_at >= this._startedAt - 5000;
  }

  private _emit(part: ModelPart): void {
    if (part === 'jobs') {
      this._jobsList = null;
    }
    this._partChanged.emit(part);
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _partChanged = new Signal<this, ModelPart>(this);
  private _jobChanged = new Signal<this, IJobSummary>(this);
  private _logGrew = new Signal<this, ILogGrowth>(this);
  private _tick = new Signal<this, void>(this);
  private _jobEnded = new Signal<this, IJobSummary>(this);
  private _imageEnded = new Signal<this, IImage>(this);
  private _mountFailed = new Signal<this, IMount>(this);
  private _trans: TranslationBundle | undefined;
  private _events: Event.IManager | null;
  private _instance: IInstance | null = null;
  private _lease: ILease | null = null;
  private _mounts: IMount[] = [];
  private _images: IImage[] = [];
  private _summaries = new Map<string, IJobSummary>();
  private _tasks = new Map<string, ITask[]>();
  private _jobIds: string[] = [];
  private _jobsList: IJobSummary[] | null = null;
  private _workspaces: IWorkspace[] = [];
  private _workspaceId: string | null = null;
  private _workspaceGeneration = 0;
  private _missed = false;
  private _doctor: IDoctorReport | null = null;
  private _doctorWanted = false;
  private _doctorPosts = 0;
  private _jobsTotal = 0;
  private _sort: IModelArtsModel.IJobsSort = { key: 'created', order: 'desc' };
  private _phase: JobPhase | '' = '';
  private _followed = new Set<string>();
  private _watched = new Set<string>();
  private _announced = new Set<string>();
  private _errors = new Map<ModelPart, string>();
  private _replays = new Map<ModelPart, Set<(() => void)[]>>();
  private _refreshing: Promise<void> | null = null;
  private _ready = false;
  private _live = true;
  private _started = false;
  private _disposed = false;
  private _lastMessage = 0;
  private _interval: number;
  private _staleAfter: number;
  private _gapAfter: number;
  private _pageSize: number;
  private _poll: Poll;
  private _ticker = 0;
  private _startedAt = Date.now();
}

/**
 * A namespace for ModelArtsModel statics.
 */
export namespace ModelArtsModel {
  /**
   * The options used to create a ModelArtsModel.
   */
  export interface IOptions {
    /** The REST client. */
    service: ModelArtsService;
    /** The translation bundle of the error messages. */
    trans?: TranslationBundle;
    /** The server's event bus (`app.serviceManager.events`); without it the model polls. */
    events?: Event.IManager | null;
    /** Seconds between polls while the event stream is down (10 by default). */
    pollInterval?: number;
    /** Milliseconds without any message after which the stream counts as down (75000). */
    staleAfter?: number;
    /**
     * Milliseconds of silence that mean messages were missed though the stream stayed up
     * (45000: one and a half heartbeats); the next message brings a refresh.
     */
    gapAfter?: number;
    /** Jobs per page (50 by default). */
    pageSize?: number;
    /** Whether to load and listen at once (true by default; else call `start`). */
    autoStart?: boolean;
  }
}
