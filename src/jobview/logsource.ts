import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE, ModelArtsError, withLanguage } from '../api/request';

/**
 * A stretch of a task's log, as the raw log route answered.
 */
export interface ILogBytes {
  /** The bytes. */
  bytes: Uint8Array;
  /** Their byte offset in the log. */
  start: number;
  /** The log's size when read. */
  size: number;
  /** Whether the task has ended (the log grows no more). */
  complete: boolean;
}

/**
 * Read a `Content-Range` header.
 *
 * @param value `bytes a-b/size` or `bytes *\/size`
 * @returns Where the stretch starts (the size for `*`) and the log's size, or null
 */
export function parseContentRange(
  value: string | null
): { start: number; size: number } | null {
  const match = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+)$/.exec(value?.trim() ?? '');
  if (!match) {
    return null;
  }
  const size = Number(match[2]);
  return { start: match[1] === undefined ? size : Number(match[1]), size };
}

/**
 * Read a stretch of a task's log (`GET jobs/{id}/tasks/{task}/log` with a `Range`).
 *
 * @param settings The server's settings
 * @param jobId The job
 * @param task The task
 * @param range `bytes=-n`, `bytes=a-`, `bytes=a-b`, or null for the whole log
 * @param signal Aborts the request
 * @returns The stretch; empty when the range starts at the log's end
 * @throws ModelArtsError on an error answer
 */
export async function readLog(
  settings: ServerConnection.ISettings,
  jobId: string,
  task: string,
  range: string | null,
  signal?: AbortSignal
): Promise<ILogBytes> {
  const url = URLExt.join(
    settings.baseUrl,
    API_NAMESPACE,
    'jobs',
    encodeURIComponent(jobId),
    'tasks',
    encodeURIComponent(task),
    'log'
  );
  const init: RequestInit = { signal };
  if (range) {
    init.headers = { Range: range };
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      url,
      withLanguage(init),
      settings
    );
  } catch (error) {
    if ((error as Error).name === 'AbortError') {
      throw error;
    }
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const complete = response.headers.get('X-ModelArts-Log-Complete') === 'true';
  const contentRange = parseContentRange(response.headers.get('Content-Range'));
  if (response.status === 416) {
    // Nothing at or after the start asked for: the log has not grown.
    const size = contentRange?.size ?? 0;
    return { bytes: new Uint8Array(0), start: size, size, complete };
  }
  if (!response.ok) {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // A body that is not JSON is shown as it is.
    }
    throw new ModelArtsError(response, body);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.status === 206 && contentRange) {
    return {
      bytes,
      start: contentRange.start,
      size: contentRange.size,
      complete
    };
  }
  return { bytes, start: 0, size: bytes.length, complete };
}
