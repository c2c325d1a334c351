import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { Countdown } from './countdown';
import { ModelArtsService } from './service';
import {
  FINAL_PHASES,
  IImage,
  IInstance,
  IJob,
  ILease,
  IMount,
  IMountRequest
} from './tokens';

/**
 * Whether a job has reached a final phase.
 *
 * @param job The job
 * @returns True for Completed, Failed, Terminated and Abnormal
 */
export function isFinal(job: IJob): boolean {
  return FINAL_PHASES.includes(job.phase);
}

/**
 * The one update stream of a browser tab: a single poller whose answers feed the sidebar,
 * the status bar and the notifications, so that more views cost no more server calls.
 *
 * It polls the lease, mounts, images and jobs every `pollInterval` seconds (every second
 * while a mount, an image or a job is in progress), stands by while the tab is hidden, and
 * ticks the auto-stop countdown locally every second between answers.
 */
export class ModelArtsModel {
  /**
   * Create the model; it starts polling at once.
   *
   * @param options The model options
   */
  constructor(options: ModelArtsModel.IOptions) {
    this.service = options.service;
    this._interval = (options.pollInterval ?? 10) * 1000;
    this._poll = new Poll({
      auto: options.autoStart ?? true,
      factory: () => this._fetch(),
      frequency: { interval: this._interval, backoff: true, max: 300000 },
      name: 'jupyter-modelarts:model',
      standby: 'when-hidden'
    });
    this._ticker = window.setInterval(() => this._tick.emit(), 1000);
  }

  /**
   * The REST client.
   */
  readonly service: ModelArtsService;

  /**
   * The auto-stop countdown, resynchronised at every answer.
   */
  readonly countdown = new Countdown();

  /**
   * Emitted when any server state changed (an answer arrived or an action was taken).
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * Emitted every second, for the countdown.
   */
  get tick(): ISignal<this, void> {
    return this._tick;
  }

  /**
   * Emitted when a job reaches a final phase while it is watched.
   */
  get jobEnded(): ISignal<this, IJob> {
    return this._jobEnded;
  }

  /**
   * Emitted when an image save ends, ACTIVE or CREATE_FAILED.
   */
  get imageEnded(): ISignal<this, IImage> {
    return this._imageEnded;
  }

  /**
   * Emitted when a mount or an unmount fails.
   */
  get mountFailed(): ISignal<this, IMount> {
    return this._mountFailed;
  }

  /**
   * The instance, once known.
   */
  get instance(): IInstance | null {
    return this._instance;
  }

  /**
   * The mounts, in any state.
   */
  get mounts(): readonly IMount[] {
    return this._mounts;
  }

  /**
   * The saved images, newest first.
   */
  get images(): readonly IImage[] {
    return this._images;
  }

  /**
   * The jobs, newest first.
   */
  get jobs(): readonly IJob[] {
    return this._jobs;
  }

  /**
   * The error of the last poll, if it failed.
   */
  get error(): string | null {
    return this._error;
  }

  /**
   * Whether the first answer has arrived.
   */
  get ready(): boolean {
    return this._ready;
  }

  /**
   * The regular poll interval, in seconds.
   */
  get pollInterval(): number {
    return this._interval / 1000;
  }
  set pollInterval(seconds: number) {
    this._interval = Math.max(1, seconds) * 1000;
    this._adjustFrequency();
  }

  /**
   * Ask for fresh state now.
   *
   * @returns A promise that settles after the answer
   */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  /**
   * Renew the auto-stop lease, counting from now.
   *
   * @param hours 1 to 72
   * @returns The renewed lease
   */
  async renew(hours: number): Promise<ILease> {
    const lease = await this.service.renewLease(Math.round(hours * 3600));
    this.countdown.sync(lease);
    this._changed.emit();
    return lease;
  }

  /**
   * Start mounting an OBS folder.
   *
   * @param request The folder and the mount path
   * @returns The mount, `MOUNTING`
   */
  async mount(request: IMountRequest): Promise<IMount> {
    const mount = await this.service.createMount(request);
    this._mounts = [...this._mounts.filter(m => m.id !== mount.id), mount];
    this._changedLocally();
    return mount;
  }

  /**
   * Start unmounting.
   *
   * @param id The mount id
   */
  async unmount(id: string): Promise<void> {
    const mount = await this.service.deleteMount(id);
    this._mounts = this._mounts
      .map(m => (m.id === id ? mount : m))
      .filter(m => m.status !== 'UNMOUNTED');
    this._changedLocally();
  }

  /**
   * Record an image save just started, so that its progress is followed.
   *
   * @param image The image as the server accepted it
   */
  addImage(image: IImage): void {
    this._images = [image, ...this._images.filter(i => i.id !== image.id)];
    this._changedLocally();
  }

  /**
   * Record a job just submitted or changed, so that it is followed.
   *
   * @param job The job as the server answered
   */
  updateJob(job: IJob): void {
    const known = this._jobs.some(j => j.id === job.id);
    this._jobs = known
      ? this._jobs.map(j => (j.id === job.id ? job : j))
      : [job, ...this._jobs];
    this._diffJobs(this._watched, [job]);
    this._changedLocally();
  }

  /**
   * Forget a deleted job.
   *
   * @param id The job id
   */
  removeJob(id: string): void {
    this._jobs = this._jobs.filter(j => j.id !== id);
    this._watched.delete(id);
    this._changedLocally();
  }

  /**
   * Stop polling and ticking.
   */
  dispose(): void {
    this._poll.dispose();
    window.clearInterval(this._ticker);
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    try {
      const [instance, lease, mounts, images, jobs] = await Promise.all([
        this._instance && this._polls++ % 30 !== 0
          ? Promise.resolve(this._instance)
          : this.service.getInstance(),
        this.service.getLease(),
        this.service.listMounts(),
        this.service.listImages(),
        this.service.listJobs()
      ]);
      this._instance = instance;
      this.countdown.sync(lease);
      this._diffMounts(mounts);
      this._diffImages(images);
      this._diffJobs(this._watched, jobs);
      this._mounts = mounts;
      this._images = images;
      this._jobs = jobs;
      this._error = null;
      this._ready = true;
    } catch (error) {
      this._error = ModelArtsService.errorMessage(error);
      this._changed.emit();
      throw error;
    }
    this._adjustFrequency();
    this._changed.emit();
  }

  private _diffMounts(mounts: IMount[]): void {
    const before = new Map(this._mounts.map(m => [m.id, m.status]));
    for (const mount of mounts) {
      const was = before.get(mount.id);
      const failed =
        mount.status === 'MOUNT_FAILED' || mount.status === 'UNMOUNT_FAILED';
      if (failed && this._ready && was !== mount.status) {
        this._mountFailed.emit(mount);
      }
    }
  }

  private _diffImages(images: IImage[]): void {
    const before = new Map(this._images.map(i => [i.id, i.status]));
    for (const image of images) {
      const was = before.get(image.id);
      const ended =
        image.status === 'ACTIVE' || image.status === 'CREATE_FAILED';
      const wasRunning = was === 'INIT' || was === 'CREATING';
      if (
        ended &&
        this._ready &&
        (wasRunning || (!was && this._isNew(image)))
      ) {
        this._imageEnded.emit(image);
      }
    }
  }

  /**
   * Note jobs that reached a final phase: those seen running, and those submitted after this
   * model started (a job from a notebook cell may start and end between two polls).
   */
  private _diffJobs(watched: Set<string>, jobs: IJob[]): void {
    for (const job of jobs) {
      if (!isFinal(job)) {
        watched.add(job.id);
      } else if (
        watched.has(job.id) ||
        (this._ready &&
          this._isNew(job) &&
          !this._jobs.some(j => j.id === job.id))
      ) {
        watched.delete(job.id);
        this._jobEnded.emit(job);
      }
    }
  }

  private _isNew(item: { created_at: number }): boolean {
    return item.created_at >= this._startedAt - 5000;
  }

  private _busy(): boolean {
    return (
      this._mounts.some(
        m => m.status === 'MOUNTING' || m.status === 'UNMOUNTING'
      ) ||
      this._images.some(i => i.status === 'INIT' || i.status === 'CREATING') ||
      this._jobs.some(j => !isFinal(j))
    );
  }

  private _adjustFrequency(): void {
    const interval = this._busy()
      ? Math.min(1000, this._interval)
      : this._interval;
    if (this._poll.frequency.interval !== interval) {
      this._poll.frequency = { interval, backoff: true, max: 300000 };
    }
  }

  private _changedLocally(): void {
    this._adjustFrequency();
    this._changed.emit();
    // Follow what was just started without waiting for the regular interval.
    void this._poll.schedule({
      interval: Math.min(1000, this._interval),
      phase: 'refreshed'
    });
  }

  private _changed = new Signal<this, void>(this);
  private _tick = new Signal<this, void>(this);
  private _jobEnded = new Signal<this, IJob>(this);
  private _imageEnded = new Signal<this, IImage>(this);
  private _mountFailed = new Signal<this, IMount>(this);
  private _instance: IInstance | null = null;
  private _mounts: IMount[] = [];
  private _images: IImage[] = [];
  private _jobs: IJob[] = [];
  private _watched = new Set<string>();
  private _error: string | null = null;
  private _ready = false;
  private _polls = 0;
  private _interval: number;
  private _poll: Poll;
  private _ticker: number;
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
    /**
     * The REST client.
     */
    service: ModelArtsService;

    /**
     * Seconds between polls while nothing is in progress (10 by default).
     */
    pollInterval?: number;

    /**
     * Whether to start polling at once (true by default).
     */
    autoStart?: boolean;
  }
}
