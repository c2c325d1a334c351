import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { modelartsIcon } from './icons';
import { ModelArtsService } from './service';
import { IInstance } from './tokens';

/**
 * The DOM id of the sidebar panel.
 */
export const SIDEBAR_ID = 'jupyter-modelarts-sidebar';

/**
 * The left sidebar panel: the notebook instance and its flavor.
 */
export class ModelArtsSidebar extends Widget {
  /**
   * Create the sidebar panel.
   *
   * @param options The panel options
   */
  constructor(options: ModelArtsSidebar.IOptions) {
    super();
    this._service = options.service;
    this._trans = options.trans;
    this.id = SIDEBAR_ID;
    this.addClass('jp-ModelArts-sidebar');
    this.title.icon = modelartsIcon;
    this.title.caption = this._trans.__('ModelArts');

    const header = document.createElement('h2');
    header.className = 'jp-ModelArts-header';
    header.textContent = this._trans.__('ModelArts');
    this._body = document.createElement('div');
    this._body.className = 'jp-ModelArts-body';
    this.node.append(header, this._body);
  }

  /**
   * Fetch the instance from the server and show it.
   *
   * @returns A promise that settles once the panel shows the answer or the error
   */
  async refresh(): Promise<void> {
    this._showMessage(this._trans.__('Loading…'), false);
    try {
      this._showInstance(await this._service.getInstance());
    } catch (error) {
      console.error(
        'The jupyter_modelarts server extension answered with an error; is it installed and enabled?',
        error
      );
      const message =
        error instanceof ServerConnection.ResponseError ||
        error instanceof Error
          ? error.message
          : String(error);
      this._showMessage(message, true);
    }
  }

  private _showInstance(instance: IInstance): void {
    const { flavor } = instance;
    const rows: [string, string][] = [
      [this._trans.__('Backend'), instance.backend],
      [this._trans.__('Instance'), instance.name],
      [this._trans.__('Status'), instance.status],
      [this._trans.__('Flavor'), flavor.name],
      [
        this._trans.__('Resources'),
        this._trans.__(
          '%1 CPU, %2 GiB memory',
          flavor.cpu_count,
          (flavor.memory_mb / 1024).toFixed(1)
        )
      ]
    ];
    if (flavor.gpu_count > 0) {
      rows.push([
        this._trans.__('GPU'),
        `${flavor.gpu_count} × ${flavor.gpu_name ?? flavor.type}`
      ]);
    }

    const list = document.createElement('dl');
    list.className = 'jp-ModelArts-instance';
    for (const [label, value] of rows) {
      const term = document.createElement('dt');
      term.textContent = label;
      const detail = document.createElement('dd');
      detail.textContent = value;
      list.append(term, detail);
    }
    this._body.replaceChildren(list);
  }

  private _showMessage(text: string, isError: boolean): void {
    const message = document.createElement('p');
    message.className = isError ? 'jp-ModelArts-error' : 'jp-ModelArts-info';
    message.textContent = text;
    this._body.replaceChildren(message);
  }

  private _body: HTMLDivElement;
  private _service: ModelArtsService;
  private _trans: TranslationBundle;
}

/**
 * A namespace for ModelArtsSidebar statics.
 */
export namespace ModelArtsSidebar {
  /**
   * The options used to create a ModelArtsSidebar.
   */
  export interface IOptions {
    /**
     * The REST client.
     */
    service: ModelArtsService;

    /**
     * The translation bundle for UI strings.
     */
    trans: TranslationBundle;
  }
}
