import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './request';
import {
  IEngine,
  IFlavor,
  IImage,
  IImageRequest,
  IInstance,
  IJob,
  IJobSpec,
  IJobsPage,
  IJobsQuery,
  ILease,
  ILogChunk,
  IMetrics,
  IMount,
  IMountRequest
} from './tokens';

/**
 * Typed client of the jupyter_modelarts REST API: the one place the frontend talks to the
 * server. Every method throws `ServerConnection.ResponseError` with the server's message on a
 * non-2xx answer (see `errorField` for the field at fault) and `ServerConnection.NetworkError`
 * when the server cannot be reached.
 */
export class ModelArtsService {
  /**
   * Create a service bound to a Jupyter server.
   *
   * @param options The service options
   */
  constructor(options: ModelArtsService.IOptions) {
    this.serverSettings = options.serverSettings;
  }

  /**
   * The settings of the server the service talks to.
   */
  readonly serverSettings: ServerConnection.ISettings;

  /**
   * Get the notebook instance JupyterLab runs on.
   *
   * @returns The instance, its flavor and lease
   */
  async getInstance(): Promise<IInstance> {
    return this._get<IInstance>('instance');
  }

  /**
   * Get the auto-stop lease.
   *
   * @returns The lease; `enabled` is false without auto-stop
   */
  async getLease(): Promise<ILease> {
    return this._get<ILease>('lease');
  }

  /**
   * Renew the auto-stop lease, counting from now.
   *
   * @param durationS Seconds, 3600 (1 h) to 259200 (72 h)
   * @returns The renewed lease
   * @throws ResponseError 409 when auto-stop is off, 400 for a duration out of range
   */
  async renewLease(durationS: number): Promise<ILease> {
    return this._send<ILease>('lease', 'PATCH', { duration_s: durationS });
  }

  /**
   * List the dynamic mounts, in any state.
   *
   * @returns The mounts
   */
  async listMounts(): Promise<IMount[]> {
    return (await this._get<{ mounts: IMount[] }>('mounts')).mounts;
  }

  /**
   * Get one mount.
   *
   * @param id The mount id
   * @returns The mount
   */
  async getMount(id: string): Promise<IMount> {
    return this._get<IMount>(URLExt.join('mounts', encodeURIComponent(id)));
  }

  /**
   * Start mounting an OBS folder; poll until it is `MOUNTED` or `MOUNT_FAILED`.
   *
   * @param request The OBS folder and where to show it
   * @returns The mount, `MOUNTING`
   */
  async createMount(request: IMountRequest): Promise<IMount> {
    return this._send<IMount>('mounts', 'POST', request);
  }

  /**
   * Start unmounting; the data stays in OBS.
   *
   * @param id The mount id
   * @returns The mount, `UNMOUNTING` (or `UNMOUNTED` if it had failed)
   */
  async deleteMount(id: string): Promise<IMount> {
    return this._send<IMount>(
      URLExt.join('mounts', encodeURIComponent(id)),
      'DELETE'
    );
  }

  /**
   * List the images saved from this instance.
   *
   * @returns The images
   */
  async listImages(): Promise<IImage[]> {
    return (await this._get<{ images: IImage[] }>('images')).images;
  }

  /**
   * Get one image and its progress.
   *
   * @param id The image id
   * @returns The image
   */
  async getImage(id: string): Promise<IImage> {
    return this._get<IImage>(URLExt.join('images', encodeURIComponent(id)));
  }

  /**
   * Start saving the instance as an image; poll until `ACTIVE` or `CREATE_FAILED`.
   *
   * @param request Name, tag, namespace and description
   * @returns The image, `INIT`
   */
  async saveImage(request: IImageRequest): Promise<IImage> {
    return this._send<IImage>('images', 'POST', request);
  }

  /**
   * List the flavors a job can run on.
   *
   * @returns The flavors
   */
  async listFlavors(): Promise<IFlavor[]> {
    return (await this._get<{ flavors: IFlavor[] }>('flavors')).flavors;
  }

  /**
   * List the engines a job can run in.
   *
   * @returns The engines
   */
  async listEngines(): Promise<IEngine[]> {
    return (await this._get<{ engines: IEngine[] }>('engines')).engines;
  }

  /**
   * List one page of jobs, as summaries (no spec, no tasks).
   *
   * @param query Phase filter, offset, limit, sort key and order (newest first by default)
   * @returns The page and the total
   * @throws ResponseError 400 naming the field for a bad query value
   */
  async listJobs(query: IJobsQuery = {}): Promise<IJobsPage> {
    const params: Record<string, string | number> = {};
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== '') {
        params[key] = value;
      }
    }
    return this._get<IJobsPage>('jobs' + URLExt.objectToQueryString(params));
  }

  /**
   * Get one job.
   *
   * @param id The job id
   * @returns The job
   */
  async getJob(id: string): Promise<IJob> {
    return this._get<IJob>(URLExt.join('jobs', encodeURIComponent(id)));
  }

  /**
   * Submit a job.
   *
   * @param spec What to run and where
   * @returns The job as created
   * @throws ResponseError 400 naming the offending `field`
   */
  async submitJob(spec: IJobSpec): Promise<IJob> {
    return this._send<IJob>('jobs', 'POST', spec);
  }

  /**
   * Stop a job.
   *
   * @param id The job id
   * @returns The job, `Terminating` or `Terminated`
   */
  async stopJob(id: string): Promise<IJob> {
    return this._send<IJob>(
      URLExt.join('jobs', encodeURIComponent(id), 'stop'),
      'POST'
    );
  }

  /**
   * Forget an ended job, its logs and snapshot.
   *
   * @param id The job id
   */
  async deleteJob(id: string): Promise<void> {
    await this._send<void>(
      URLExt.join('jobs', encodeURIComponent(id)),
      'DELETE'
    );
  }

  /**
   * Read one task's log from a byte offset.
   *
   * @param id The job id
   * @param task The task, `worker-0` by default
   * @param offset Where to read from; follow with the returned `next_offset`
   * @param limit Most bytes to return
   * @returns The chunk
   */
  async getJobLogs(
    id: string,
    task = 'worker-0',
    offset = 0,
    limit?: number
  ): Promise<ILogChunk> {
    const query: Record<string, string | number> = { task, offset };
    if (limit !== undefined) {
      query.limit = limit;
    }
    return this._get<ILogChunk>(
      URLExt.join('jobs', encodeURIComponent(id), 'logs') +
        URLExt.objectToQueryString(query)
    );
  }

  /**
   * Get the resource metrics of a job.
   *
   * @param id The job id
   * @returns One series per task and metric
   */
  async getJobMetrics(id: string): Promise<IMetrics> {
    return this._get<IMetrics>(
      URLExt.join('jobs', encodeURIComponent(id), 'metrics')
    );
  }

  private _get<T>(endPoint: string): Promise<T> {
    return requestAPI<T>(endPoint, this.serverSettings);
  }

  private _send<T>(
    endPoint: string,
    method: 'POST' | 'PATCH' | 'DELETE',
    body?: unknown
  ): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    return requestAPI<T>(endPoint, this.serverSettings, init);
  }
}

/**
 * A namespace for ModelArtsService statics.
 */
export namespace ModelArtsService {
  /**
   * The options used to create a ModelArtsService.
   */
  export interface IOptions {
    /**
     * The server settings, usually `app.serviceManager.serverSettings`.
     */
    serverSettings: ServerConnection.ISettings;
  }

  /**
   * The request field an error names, if any (`mount_path`, `uri`, `tag`…).
   *
   * @param error An error thrown by a service method
   * @returns The field, or null
   */
  export function errorField(error: unknown): string | null {
    const field = (error as { field?: unknown } | null)?.field;
    return typeof field === 'string' ? field : null;
  }

  /**
   * A message for a person from any error thrown by a service method.
   *
   * @param error The error
   * @returns Its message
   */
  export function errorMessage(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
  }
}
