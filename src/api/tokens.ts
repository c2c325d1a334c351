/**
 * A machine flavor (CPU/GPU size) the instance or a job runs on.
 */
export interface IFlavor {
  /** Flavor id, for example `local.cpu`. */
  id: string;
  /** Human-readable name. */
  name: string;
  /** Hardware kind: `CPU`, `GPU` or `NPU` (ModelArts' Ascend). */
  type: string;
  /** Number of CPU cores. */
  cpu_count: number;
  /** Memory in MiB. */
  memory_mb: number;
  /** Number of GPUs. */
  gpu_count: number;
  /** GPU model, or null without GPU. */
  gpu_name: string | null;
  /** Largest node count a job may use with this flavor. */
  max_nodes: number;
}

/**
 * The auto-stop lease of the notebook instance.
 */
export interface ILease {
  /** Whether auto-stop is on. */
  enabled: boolean;
  /** Lease kind, `TIMING` on ModelArts. */
  type?: string;
  /** Seconds from `renewed_at` to `stop_at` (the last renewal's length), when enabled. */
  duration_s?: number | null;
  /** Last renewal, epoch milliseconds. */
  renewed_at?: number | null;
  /** When the instance stops, epoch milliseconds. */
  stop_at?: number | null;
  /** Seconds left before the instance stops, computed when read. */
  remaining_s?: number | null;
}

/**
 * The notebook instance JupyterLab runs on (`GET /jupyter-modelarts/instance`).
 */
export interface IInstance {
  /** Backend name, for example `local`. */
  backend: string;
  /** Instance id. */
  id: string;
  /** Instance name. */
  name: string;
  /** Instance status, for example `RUNNING`. */
  status: string;
  /** The flavor the instance runs on. */
  flavor: IFlavor;
  /** The image the instance was started from, if known. */
  image: string | null;
  /** The auto-stop lease, if the backend has one. */
  lease: ILease | null;
}

/**
 * The JSON body of an error answer from the server extension.
 */
export interface IErrorBody {
  /** Human-readable message. */
  message: string;
  /** Machine-readable reason. */
  reason: string;
  /** `ModelArts.<Kind>` or the upstream error code. */
  code: string;
  /** The request field at fault, if any. */
  field?: string;
}

/**
 * The state of a dynamic OBS mount. `BROKEN`: a mount whose folder was deleted or replaced
 * since it was mounted (local backend); it can still be unmounted.
 */
export type MountStatus =
  | 'MOUNTING'
  | 'MOUNTED'
  | 'MOUNT_FAILED'
  | 'UNMOUNTING'
  | 'UNMOUNT_FAILED'
  | 'UNMOUNTED'
  | 'BROKEN';

/**
 * A request to mount an OBS folder under /data/.
 */
export interface IMountRequest {
  /** The OBS folder, `obs://bucket/path/`. */
  uri: string;
  /** Where it shows, `/data/<name>/`. */
  mount_path: string;
}

/**
 * A dynamic OBS mount.
 */
export interface IMount extends IMountRequest {
  /** Mount id. */
  id: string;
  /** Its state. */
  status: MountStatus;
  /** Where the mount really is on the server's machine; differs from `mount_path` when the
   * local backend links it under its data root. */
  local_path: string;
  /** Storage kind, `OBS`. */
  category: string;
  /** Why it is *_FAILED or BROKEN. */
  failure_reason: string | null;
  /** Creation time, epoch ms. */
  created_at: number;
  /** Last change, epoch ms. */
  updated_at: number;
}

/**
 * The state of an image save.
 */
export type ImageStatus = 'INIT' | 'CREATING' | 'ACTIVE' | 'CREATE_FAILED';

/**
 * A request to save the instance as an image.
 */
export interface IImageRequest {
  /** Lowercase image name. */
  name: string;
  /** Image tag, `latest` by default. */
  tag?: string;
  /** SWR organisation; the server's default when absent. */
  namespace?: string | null;
  /** Free text. */
  description?: string;
}

/**
 * An image saved from the instance, with the progress of writing it.
 */
export interface IImage {
  /** Image id. */
  id: string;
  /** Image name. */
  name: string;
  /** Image tag. */
  tag: string;
  /** SWR organisation. */
  namespace: string;
  /** Its state. */
  status: ImageStatus;
  /** Free text. */
  description: string;
  /** What is happening, the failure reason, or the manifest digest. */
  status_message: string;
  /** Bytes written so far. */
  bytes_done: number;
  /** Bytes to write. */
  bytes_total: number;
  /** Size of the finished image. */
  size_bytes: number | null;
  /** Where the image lives. */
  location: string | null;
  /** Creation time, epoch ms. */
  created_at: number;
  /** Last change, epoch ms. */
  updated_at: number;
}

/**
 * A runtime a job's code runs in.
 */
export interface IEngine {
  /** Engine id. */
  id: string;
  /** Engine name (on the local backend, the kernelspec's display name). */
  name: string;
  /** Engine version. */
  version: string;
  /** Container image, if any. */
  image: string | null;
  /** The Python it runs (local backend), if known. */
  interpreter: string | null;
}

/**
 * The phase of a job or a task.
 */
export type JobPhase =
  | 'Creating'
  | 'Pending'
  | 'Running'
  | 'Completed'
  | 'Failed'
  | 'Terminating'
  | 'Terminated'
  | 'Abnormal';

/**
 * Every job phase, in lifecycle order.
 */
export const JOB_PHASES: readonly JobPhase[] = [
  'Creating',
  'Pending',
  'Running',
  'Completed',
  'Failed',
  'Terminating',
  'Terminated',
  'Abnormal'
];

/**
 * The phases after which a job no longer changes.
 */
export const FINAL_PHASES: readonly JobPhase[] = [
  'Completed',
  'Failed',
  'Terminated',
  'Abnormal'
];

/**
 * What to run, as submitted to `POST /jobs`.
 */
export interface IJobSpec {
  /** Job name, `[A-Za-z0-9_-]{1,64}`. */
  name: string;
  /** Source text of the boot file. */
  code?: string | null;
  /** Folder to snapshot, relative to the server root. */
  code_dir?: string | null;
  /** The file to run, relative to `code_dir`. */
  boot_file?: string | null;
  /** A command run instead of a boot file. */
  command?: string | string[] | null;
  /** Passed as `--name=value`. */
  parameters?: Record<string, string> | null;
  /** Name → OBS folder to read. */
  inputs?: Record<string, string> | null;
  /** Name → OBS folder written at the end. */
  outputs?: Record<string, string> | null;
  /** Environment variables. */
  env?: Record<string, string> | null;
  /** Node count, 1 to 16. */
  nodes?: number;
  /** A flavor id from `GET /flavors`. */
  flavor?: string | null;
  /** An engine id from `GET /engines`. */
  engine?: string | null;
  /** A custom image. */
  image?: string | null;
  /** Free text. */
  description?: string | null;
}

/**
 * One worker of a job.
 */
export interface ITask {
  /** `worker-<n>`. */
  name: string;
  /** Its phase. */
  phase: JobPhase;
  /** Exit code once ended. */
  exit_code: number | null;
  /** Start time, epoch ms. */
  started_at: number | null;
  /** End time, epoch ms. */
  ended_at: number | null;
}

/**
 * A training job.
 */
export interface IJob {
  /** Job id. */
  id: string;
  /** Job name. */
  name: string;
  /** The backend that runs it. */
  backend: string;
  /** Its phase. */
  phase: JobPhase;
  /** The spec as the server keeps it. */
  spec: Required<IJobSpec>;
  /** Its workers. */
  tasks: ITask[];
  /** Exit code once ended. */
  exit_code: number | null;
  /** Why it failed, if it did. */
  message: string;
  /** Submission time, epoch ms. */
  created_at: number;
  /** Start time, epoch ms. */
  started_at: number | null;
  /** End time, epoch ms. */
  ended_at: number | null;
}

/**
 * A job as `GET /jobs` lists it and the job event carries it: no spec, no tasks.
 */
export interface IJobSummary extends Omit<IJob, 'spec' | 'tasks' | 'message'> {
  /** The flavor it runs on. */
  flavor: string;
  /** How many workers. */
  nodes: number;
  /** Why it failed, at most 200 characters (the whole message is in `IJob`). */
  message: string;
}

/**
 * A chunk of one task's log.
 */
export interface ILogChunk {
  /** The task. */
  task: string;
  /** Where this chunk starts. */
  offset: number;
  /** Where to read next. */
  next_offset: number;
  /** The log's size now. */
  size: number;
  /** The text. */
  content: string;
  /** Whether the task has ended and nothing is left. */
  complete: boolean;
}

/**
 * One metric series of one task.
 */
export interface IMetricSeries {
  /** The task. */
  task: string;
  /**
   * As ModelArts names them: `cpuUsage`, `memUsage` (every task), `gpuUtil`,
   * `gpuMemUsage`, `npuUtil` or `npuMemUsage` (where the task has data).
   */
  metric: string;
  /** The unit: `%` (of the CPUs, memory or accelerators the task has). */
  unit: string;
  /** `[epoch ms, value]` pairs, oldest first. */
  points: [number, number][];
}

/**
 * The resource metrics of a job.
 */
export interface IMetrics {
  /** The job. */
  job_id: string;
  /** One series per task and metric. */
  series: IMetricSeries[];
}
