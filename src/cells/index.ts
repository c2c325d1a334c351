import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { IModelArtsModel } from '../api/interfaces';
import type { IOutputContext, OutputView } from './views';

/**
 * The MIME types of the cell outputs of the magics (`%%ma_train`, `%ma_lease`, `%ma_image`).
 */
export namespace OutputMimeTypes {
  /** `{job_id}` */
  export const job = 'application/vnd.jupyter-modelarts.job+json';
  /** `{}` */
  export const lease = 'application/vnd.jupyter-modelarts.lease+json';
  /** `{image_id}` */
  export const image = 'application/vnd.jupyter-modelarts.image+json';
}

/**
 * Before the ipywidgets view of the same bundle, which the widget manager registers at -10
 * (the bundle carries one for frontends without this extension).
 */
export const OUTPUT_RANK = -20;

/**
 * A cell output of the magics, drawn from the shared model; the view's code loads with the
 * first output.
 */
class ModelArtsOutput extends Widget implements IRenderMime.IRenderer {
  constructor(
    private _options: IRenderMime.IRendererOptions,
    private _context: IOutputContext
  ) {
    super();
    this.addClass('jp-ModelArts-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = (model.data[this._options.mimeType] ?? {}) as Record<
      string,
      unknown
    >;
    // The kernel redraws its displays (update_display) as the job goes; the view is live.
    const key = JSON.stringify(data);
    if (this._view && key === this._key) {
      return;
    }
    this._key = key;
    const { createView } = await import('../lazy');
    if (this.isDisposed) {
      return;
    }
    this._view?.dispose();
    this._view = createView(this._options.mimeType, data, this._context);
    this.node.replaceChildren(this._view.node);
    this._view.attach(this);
  }

  dispose(): void {
    this._view?.dispose();
    super.dispose();
  }

  private _view: OutputView | null = null;
  private _key = '';
}

/**
 * Draws the magics' cell outputs (job, lease, image) live from the shared model, in JupyterLab
 * and Notebook 7.
 */
export const outputsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-modelarts:outputs',
  description: 'Live cell outputs of the jupyter_modelarts magics.',
  autoStart: true,
  requires: [IModelArtsModel, IRenderMimeRegistry],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    model: IModelArtsModel,
    rendermime: IRenderMimeRegistry,
    translator: ITranslator | null
  ): void => {
    const context: IOutputContext = {
      model,
      commands: app.commands,
      trans: (translator ?? nullTranslator).load('jupyter_modelarts')
    };
    rendermime.addFactory(
      {
        safe: true,
        mimeTypes: [
          OutputMimeTypes.job,
          OutputMimeTypes.lease,
          OutputMimeTypes.image
        ],
        defaultRank: OUTPUT_RANK,
        createRenderer: options => new ModelArtsOutput(options, context)
      },
      OUTPUT_RANK
    );
  }
};
