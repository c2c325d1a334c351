import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { ModelArtsError, requestAPI } from './request';
import {
  IDoctorReport,
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
  IMountRequest,
  IWorkspace,
  IWorkspaceList
} from './tokens';

/**
 * Typed client of the jupyter_modelarts REST API: the one place the frontend talks to the
 * server. Every method throws `ServerConnection.ResponseError` with the server's message on a
 * non-2xx answer (see `errorField` for the field at fault, `errorMessage` for the text to
 * show) and `ServerConnection.NetworkError`
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
   * @param durationS Seconds, 3600 (1 h) to 259200 (72 h): from now (TIMING) or the idle
   *   period (IDLE)
   * @param kind TIMING or IDLE to switch the kind; undefined keeps it
   * @returns The renewed lease
   * @throws ResponseError 409 when auto-stop is off, 400 for a duration out of range
   */
  async renewLease(
    durationS: number,
    kind?: 'TIMING' | 'IDLE'
  ): Promise<ILease> {
    return this._send<ILease>('lease', 'PATCH', {
      duration_s: durationS,
      ...(kind ? { type: kind } : {})
    });
  }

  /**
   * Tell the server the user acted in the browser: it counts for an IDLE lease.
   */
  async noteActivity(): Promise<void> {
    await this._send<void>('activity', 'POST');
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

  /**
   * List the workspaces this user may use.
   *
   * @returns The workspaces and the current one's id
   */
  async listWorkspaces(): Promise<IWorkspaceList> {
    return this._get<IWorkspaceList>('workspaces');
  }

  /**
   * Make another workspace the current one: jobs and images are then listed, submitted and
   * saved there (kept across server restarts).
   *
   * @param id The workspace id
   * @returns The workspace, now current
   * @throws ResponseError 404 (`field: id`) when no workspace of this user has the id
   */
  async setCurrentWorkspace(id: string): Promise<IWorkspace> {
    return this._send<IWorkspace>('workspaces/current', 'PUT', { id });
  }

  /**
   * Get the last report of the checks (waits for the first run of the server).
   *
   * @returns The report
   */
  async getDoctor(): Promise<IDoctorReport> {
    return this._get<IDoctorReport>('doctor');
  }

  /**
   * Run the checks again now (joining a run in progress).
   *
   * @returns The new report
   */
  async runDoctor(): Promise<IDoctorReport> {
    return this._send<IDoctorReport>('doctor', 'POST');
  }

  private _get<T>(endPoint: string): Promise<T> {
    return requestAPI<T>(endPoint, this.serverSettings);
  }

  private _send<T>(
    endPoint: string,
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
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
   * A message for a person from any error thrown by a service method. A 403 names the IAM
   * action the call needs, and whether the right is the ModelArts agency's rather than the
   * user's, when the server's message does not say so already.
   *
   * @param error The error
   * @param trans The translation bundle
   * @returns Its message
   */
  export function errorMessage(
    error: unknown,
    trans: TranslationBundle = nullTranslator.load('jupyter_modelarts')
  ): string {
    const message = error instanceof Error ? error.message : String(error);
    if (!(error instanceof ModelArtsError) || !error.iamAction) {
      return message;
    }
    const parts = [message];
    if (!message.includes(error.iamAction)) {
      parts.push(trans.__('It needs the IAM action %1.', error.iamAction));
    }
    if (error.agency && !/agency|委托/i.test(message)) {
      parts.push(
        trans.__(
          "The right is the ModelArts agency's, not yours: add it in the ModelArts console → 全局配置 (Global Configuration) → 添加授权 (Add Authorization)."
        )
      );
    }
    return parts.join(' ');
  }
}
