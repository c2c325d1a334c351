/**
 * A machine flavor (CPU/GPU size) the instance or a job runs on.
 */
export interface IFlavor {
  /** Flavor id, for example `local.cpu`. */
  id: string;
  /** Human-readable name. */
  name: string;
  /** Hardware kind, for example `CPU` or `GPU`. */
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
  /** Lease length in seconds, when enabled. */
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
  /** HTTP status code. */
  code: number;
  /** The request field at fault, if any. */
  field?: string;
}
