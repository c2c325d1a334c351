/**
 * The command ids of the extension.
 */
export namespace CommandIDs {
  /** Open the ModelArts panel. */
  export const open = 'jupyter-modelarts:open';
  /** Renew auto-stop; args `{hours}`, or a dialog to choose. */
  export const renew = 'jupyter-modelarts:renew';
  /** Open the image save dialog. */
  export const saveImage = 'jupyter-modelarts:save-image';
  /** Open the mount dialog. */
  export const mount = 'jupyter-modelarts:mount';
  /** Stop a job; args `{id}`, the job under the context menu, or pick a running job. */
  export const stopJob = 'jupyter-modelarts:stop-job';
  /** Delete an ended job; args `{id}` or the job under the context menu. */
  export const deleteJob = 'jupyter-modelarts:delete-job';
  /** Open the view of a job; args `{id}` or the job under the context menu. */
  export const openJob = 'jupyter-modelarts:open-job';
  /** Open the training jobs in the main area. */
  export const openJobs = 'jupyter-modelarts:open-jobs';
  /** Open the submit dialog with a script; args `{path}`, or the file browser's selection. */
  export const submitScript = 'jupyter-modelarts:submit-script';
  /** Run the checks again and show them in the panel. */
  export const runChecks = 'jupyter-modelarts:run-checks';
  /** Fetch fresh state now. */
  export const refresh = 'jupyter-modelarts:refresh';
}
