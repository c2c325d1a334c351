import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * The URL namespace of the server extension's REST API.
 */
export const API_NAMESPACE = 'jupyter-modelarts';

/**
 * The header that tells the server the user's language, so its errors come back in it and its
 * kernels speak it too.
 */
export const LANGUAGE_HEADER = 'X-ModelArts-Language';

let language: string | null = null;

/**
 * Set the language every later request announces (JupyterLab's `translator.languageCode`).
 *
 * @param code A language code such as `en` or `zh-CN`
 */
export function setRequestLanguage(code: string | null): void {
  language = code || null;
}

/**
 * A request's init with the language header added (when a language is set).
 *
 * @param init Initial values for the request
 * @returns The init to send
 */
export function withLanguage(init: RequestInit): RequestInit {
  if (!language) {
    return init;
  }
  const headers = new Headers(init.headers);
  headers.set(LANGUAGE_HEADER, language);
  return { ...init, headers };
}

/**
 * Call the jupyter_modelarts server extension.
 *
 * @param endPoint API path below `<base_url>/jupyter-modelarts/`
 * @param serverSettings The server settings, from `app.serviceManager`
 * @param init Initial values for the request
 * @returns The response body, parsed as JSON when it is not empty
 * @throws ServerConnection.NetworkError when the server cannot be reached
 * @throws ModelArtsError (a ServerConnection.ResponseError) carrying the server's `message`,
 *   `field`, and on a 403 `iam_action` and `agency`, when the status is not 2xx
 */
export async function requestAPI<T>(
  endPoint: string,
  serverSettings: ServerConnection.ISettings,
  init: RequestInit = {}
): Promise<T> {
  const requestUrl = URLExt.join(
    serverSettings.baseUrl,
    API_NAMESPACE,
    endPoint
  );

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      requestUrl,
      withLanguage(init),
      serverSettings
    );
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  let data: any = await response.text();
  if (data.length > 0) {
    try {
      data = JSON.parse(data);
    } catch {
      console.error('Not a JSON response body.', response);
    }
  }

  if (!response.ok) {
    throw new ModelArtsError(response, data);
  }

  return data;
}

/**
 * An error answer of the server extension: a `ServerConnection.ResponseError` that also keeps
 * the request `field` at fault and the error `reason`, so forms can show it next to the field.
 */
export class ModelArtsError extends ServerConnection.ResponseError {
  /**
   * Wrap an error answer.
   *
   * @param response The HTTP response
   * @param body Its parsed body (an `Error` object, or text)
   */
  constructor(response: Response, body: unknown) {
    const data =
      typeof body === 'object' && body !== null
        ? (body as Record<string, unknown>)
        : {};
    const message =
      typeof data.message === 'string' && data.message
        ? data.message
        : typeof body === 'string' && body
          ? body
          : `${response.status} ${response.statusText}`;
    super(response, message);
    this.field = typeof data.field === 'string' ? data.field : null;
    this.reason = typeof data.reason === 'string' ? data.reason : null;
    this.iamAction =
      typeof data.iam_action === 'string' ? data.iam_action : null;
    this.agency = data.agency === true;
  }

  /**
   * The request field at fault, if the server named one.
   */
  readonly field: string | null;

  /**
   * The error class, for example `InvalidRequest` or `Conflict`.
   */
  readonly reason: string | null;

  /**
   * On a 403, the IAM action the refused call needs.
   */
  readonly iamAction: string | null;

  /**
   * On a 403, whether the right missing is the ModelArts agency's rather than the user's.
   */
  readonly agency: boolean;
}
