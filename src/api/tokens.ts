import type { components, operations } from './schema';

/*
 * The types of the REST contract, generated from openapi.yaml into schema.d.ts
 * (`jlpm build:api`); these are their names in the frontend.
 */
type Schemas = components['schemas'];

/** A machine flavor (CPU/GPU/NPU size) the instance or a job runs on. */
export type IFlavor = Schemas['Flavor'];

/** The auto-stop lease of the notebook instance. */
export type ILease = Schemas['Lease'];

/** The notebook instance JupyterLab runs on. */
export type IInstance = Schemas['Instance'];

/** The JSON body of an error answer from the server extension. */
export type IErrorBody = Schemas['Error'];

/** The state of a dynamic OBS mount. */
export type MountStatus = Schemas['MountStatus'];

/** A request to mount an OBS folder under /data/. */
export type IMountRequest = Schemas['MountRequest'];

/** A dynamic OBS mount. */
export type IMount = Schemas['Mount'];

/** The state of an image save. */
export type ImageStatus = Schemas['ImageStatus'];

/** A request to save the instance as an image. */
export type IImageRequest = Schemas['ImageRequest'];

/** An image saved from the instance, with the progress of writing it. */
export type IImage = Schemas['ImageSnapshot'];

/** A runtime a job's code runs in. */
export type IEngine = Schemas['Engine'];

/** The phase of a job or a task. */
export type JobPhase = Schemas['JobPhase'];

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

/** What to run, as submitted to `POST /jobs`. */
export type IJobSpec = Schemas['JobSpec'];

/** One worker of a job. */
export type ITask = Schemas['Task'];

/** A training job. */
export type IJob = Schemas['Job'];

/** A chunk of one task's log (the JSON log route). */
export type ILogChunk = Schemas['LogChunk'];

/** One metric series of one task. */
export type IMetricSeries = Schemas['MetricSeries'];

/** The resource metrics of a job. */
export type IMetrics = Schemas['Metrics'];

/** A job as `GET /jobs` lists it and the job event carries it: no spec, no tasks. */
export type IJobSummary = Schemas['JobSummary'];

/** A page request of `GET /jobs`. */
export type IJobsQuery = NonNullable<
  operations['listJobs']['parameters']['query']
>;

/** The order of `GET /jobs`. */
export type JobSortKey = NonNullable<IJobsQuery['sort']>;

/** A page of `GET /jobs`. */
export type IJobsPage =
  operations['listJobs']['responses'][200]['content']['application/json'];

/** A ModelArts workspace (工作空间). */
export type IWorkspace = Schemas['Workspace'];

/** The workspaces this user may use, and the current one's id. */
export type IWorkspaceList = Schemas['WorkspaceList'];

/** Whether a check passed, failed, or could not be made or does not apply. */
export type CheckStatus = Schemas['CheckStatus'];

/** One check of what the work needs: pass, fail or skipped, why, and the fix. */
export type ICheck = Schemas['Check'];

/** The last report of the checks (`GET /doctor`). */
export type IDoctorReport = Schemas['DoctorReport'];
