import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { ModelArtsService } from './service';
import { ModelArtsSidebar } from './sidebar';

/**
 * The id of the main plugin.
 */
export const PLUGIN_ID = 'jupyter-modelarts:plugin';

/**
 * The sidebar plugin: shows the notebook instance in the left area.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A ModelArts panel in the left sidebar.',
  autoStart: true,
  optional: [ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyter_modelarts');
    const service = new ModelArtsService({
      serverSettings: app.serviceManager.serverSettings
    });
    const sidebar = new ModelArtsSidebar({ service, trans });

    app.shell.add(sidebar, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
    }
    void sidebar.refresh();
  }
};

export default plugin;
