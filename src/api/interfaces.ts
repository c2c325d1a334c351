import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { Countdown } from './countdown';
import type { ModelArtsService } from './service';
import type {
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
 * The parts of the model that can fail on their own: one failing endpoint degrades only its
 * own section.
 */
export type ModelPart =
  'instance' | 'lease' | 'mounts' | 'images' | 'jobs' | 'workspaces' | 'doctor';

/**
 * A task's log grew (pushed while the task runs).
 */
export interface ILogGrowth {
  job_id: string;
  task: string;
  size: number;
}

/**
 * The one state of jupyter_modelarts in a browser tab, fed by the server's event stream (polling
 * only while the stream is down) and shared by the panel, the status bar, the job views, the
 * notifications and the cell outputs. Other extensions get it through `IModelArtsModel`.
 */
export interface IModelArtsModel {
  /**
   * The REST client.
   */
  readonly service: ModelArtsService;

  /**
   * The auto-stop countdown (the one implementation, with the user's thresholds).
   */
  readonly countdown: Countdown;

  /**
   * Emitted when anything changed (any part, a job, an error, the stream's state).
   */
  readonly changed: ISignal<IModelArtsModel, void>;

  /**
   * Emitted when one part changed (its data or its error).
   */
  readonly partChanged: ISignal<IModelArtsModel, ModelPart>;

  /**
   * Emitted with each job whose summary or tasks changed (from an event, an answer or an
   * action); also for jobs outside the loaded pages.
   */
  readonly jobChanged: ISignal<IModelArtsModel, IJobSummary>;

  /**
   * Emitted when a running task's log grew.
   */
  readonly logGrew: ISignal<IModelArtsModel, ILogGrowth>;

  /**
   * Emitted every second, for countdowns and relative times.
   */
  readonly tick: ISignal<IModelArtsModel, void>;

  /**
   * Emitted when a job reaches a final phase while watched (seen live, or submitted after the
   * model started).
   */
  readonly jobEnded: ISignal<IModelArtsModel, IJobSummary>;

  /**
   * Emitted when an image save ends, ACTIVE or CREATE_FAILED.
   */
  readonly imageEnded: ISignal<IModelArtsModel, IImage>;

  /**
   * Emitted when a mount or an unmount fails.
   */
  readonly mountFailed: ISignal<IModelArtsModel, IMount>;

  /**
   * Whether the first answers arrived (each part then has data or an error).
   */
  readonly ready: boolean;

  /**
   * Whether updates arrive pushed over the server's event stream (false: polling fallback).
   */
  readonly live: boolean;

  /**
   * The instance, once known.
   */
  readonly instance: IInstance | null;

  /**
   * The lease, once known.
   */
  readonly lease: ILease | null;

  /**
   * The mounts, in any state but UNMOUNTED.
   */
  readonly mounts: readonly IMount[];

  /**
   * The saved images, newest first.
   */
  readonly images: readonly IImage[];

  /**
   * The workspaces this user may use (the `workspaces` part).
   */
  readonly workspaces: readonly IWorkspace[];

  /**
   * The current workspace, once known: jobs and images are listed, submitted and saved there;
   * when it changes, both lists reload.
   */
  readonly workspace: IWorkspace | null;

  /**
   * The last report of the checks, once asked for (`loadDoctor`) or pushed (the `doctor`
   * part).
   */
  readonly doctor: IDoctorReport | null;

  /**
   * Whether the checks are running (pushed by the server, or asked by `runDoctor`).
   */
  readonly doctorRunning: boolean;

  /**
   * The checks of the last report that fail.
   */
  readonly failingChecks: readonly ICheck[];

  /**
   * The loaded jobs, in the order of `jobsSort` (pages loaded by `loadMoreJobs`).
   */
  readonly jobs: readonly IJobSummary[];

  /**
   * How many jobs the server has in all (for the current phase filter).
   */
  readonly jobsTotal: number;

  /**
   * The order of the job list; setting it reloads the first page.
   */
  jobsSort: IModelArtsModel.IJobsSort;

  /**
   * Only jobs in this phase ('' for all); setting it reloads the first page.
   */
  jobsPhase: JobPhase | '';

  /**
   * The error of each part whose last answer failed (its message), absent when it answered.
   */
  error(part: ModelPart): string | null;

  /**
   * Load the next page of jobs.
   */
  loadMoreJobs(): Promise<void>;

  /**
   * A job's summary if known (in the loaded pages or seen in an event).
   */
  jobSummary(id: string): IJobSummary | null;

  /**
   * A job's tasks if known (from events or `getJob`).
   */
  jobTasks(id: string): readonly ITask[] | null;

  /**
   * The whole job (with its spec), fetched; later changes arrive through `jobChanged`.
   */
  getJob(id: string): Promise<IJob>;

  /**
   * Ask for fresh state of every part now (on reconnecting, on coming back to the front).
   */
  refresh(): Promise<void>;

  /**
   * Fetch the report of the checks (the server keeps the last one; before its first run has
   * ended, the answer waits for it). From then on every refresh asks again.
   */
  loadDoctor(): Promise<void>;

  /**
   * Run the checks again now; the report (or the error) shows in the `doctor` part.
   */
  runDoctor(): Promise<void>;

  /**
   * Make another workspace the current one (server state, shared by every tab); the jobs and
   * images lists then reload.
   *
   * @throws The server's error (404 naming `id` for an unknown workspace)
   */
  setCurrentWorkspace(id: string): Promise<IWorkspace>;

  /**
   * Renew the lease, counting from now; `kind` switches between a fixed time (TIMING) and a
   * stop after that long idle (IDLE), undefined keeps the current kind.
   */
  renew(hours: number, kind?: 'TIMING' | 'IDLE'): Promise<ILease>;

  /**
   * Tell the server the user acted in the browser (it counts for an IDLE lease).
   */
  noteActivity(): Promise<void>;

  /**
   * Start mounting an OBS folder.
   */
  mount(request: IMountRequest): Promise<IMount>;

  /**
   * Start unmounting.
   */
  unmount(id: string): Promise<void>;

  /**
   * Record an image save just started.
   */
  addImage(image: IImage): void;

  /**
   * Record a job just submitted or changed by an action of this tab.
   */
  updateJob(job: IJob | IJobSummary): void;

  /**
   * Forget a deleted job.
   */
  removeJob(id: string): void;
}

/**
 * A namespace for IModelArtsModel types.
 */
export namespace IModelArtsModel {
  /**
   * The job list's order, as `GET /jobs` takes it.
   */
  export interface IJobsSort {
    key: 'created' | 'name' | 'phase' | 'duration';
    order: 'asc' | 'desc';
  }
}

/**
 * The token of the shared model, for other extensions.
 */
export const IModelArtsModel = new Token<IModelArtsModel>(
  'jupyter-modelarts:IModelArtsModel',
  'The state of ModelArts (lease, mounts, images, jobs, workspace, checks) kept live from the server.'
);
