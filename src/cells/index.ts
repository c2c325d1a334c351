import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { MODULE_NAME } from './module';

// The registered version must satisfy the Python widgets' `^<version>`.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version: MODULE_VERSION } = require('../../package.json');

/**
 * Registers the views of the kernel-side widgets (`%ma_lease`) with ipywidgets.
 */
export const widgetsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-modelarts:widgets',
  description: 'Views of the jupyter_modelarts kernel widgets.',
  autoStart: true,
  // Optional so that a host without the ipywidgets manager still activates everything else.
  optional: [IJupyterWidgetRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    registry: IJupyterWidgetRegistry | null,
    translator: ITranslator | null
  ): void => {
    if (!registry) {
      return;
    }
    const trans = (translator ?? nullTranslator).load('jupyter_modelarts');
    // The view code loads when a notebook first shows a countdown.
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: async () => {
        const { LeaseCountdownModel, LeaseCountdownView } =
          await import('./countdown');
        LeaseCountdownView.configure(app.serviceManager.serverSettings, trans);
        return { LeaseCountdownModel, LeaseCountdownView };
      }
    });
  }
};
