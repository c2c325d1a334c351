import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './request';
import { IInstance } from './tokens';

/**
 * Typed client of the jupyter_modelarts REST API.
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
   * @throws ServerConnection.ResponseError with the server's message on failure
   */
  async getInstance(): Promise<IInstance> {
    return requestAPI<IInstance>('instance', this.serverSettings);
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
}
