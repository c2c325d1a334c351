import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { CommandIDs, registerCommands } from './commands';
import { IModelArtsModel } from './api/interfaces';
import type { JobView } from './jobview/jobview';
import { ModelArtsModel } from './api/model';
import { ISavable, Notifier } from './notify';
import { ActivityReporter } from './activity';
import { ModelArtsService } from './api/service';
import { setRequestLanguage } from './api/request';
import { setDisplayLocale } from './ui/dom';
import { ModelArtsSidebar } from './panel/sidebar';
import { AutoStopStatus } from './statusbar/statusbar';
import { outputsPlugin } from './cells';

/**
 * The id of the main plugin (and of its settings).
 */
export const PLUGIN_ID = 'jupyter-modelarts:plugin';

/**
 * The main plugin: one shared model (the update stream of this tab) feeding the sidebar,
 * the status-bar countdown and the notifications; the commands.
 */
const plugin: JupyterFrontEndPlugin<IModelArtsModel> = {
  id: PLUGIN_ID,
  description:
    'A ModelArts panel in the left sidebar, an auto-stop countdown in the status bar, notifications.',
  autoStart: true,
  provides: IModelArtsModel,
  optional: [
    ILayoutRestorer,
    ITranslator,
    ISettingRegistry,
    IStatusBar,
    ICommandPalette,
    IDocumentManager,
    IDefaultFileBrowser
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null,
    settingRegistry: ISettingRegistry | null,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    docManager: IDocumentManager | null,
    fileBrowser: IDefaultFileBrowser | null
  ): IModelArtsModel => {
    const trans = (translator ?? nullTranslator).load('jupyter_modelarts');
    // The server answers errors in this language, and its kernels follow it.
    setRequestLanguage((translator ?? nullTranslator).languageCode);
    setDisplayLocale((translator ?? nullTranslator).languageCode);
    const service = new ModelArtsService({
      serverSettings: app.serviceManager.serverSettings
    });
    const model = new ModelArtsModel({
      service,
      trans,
      events: app.serviceManager.events
    });
    const settings = { saveBeforeStop: true };
    const thresholds = () => model.countdown.thresholds;

    const views = new Map<string, JobView>();
    const openJob = async (id: string) => {
      let view = views.get(id);
      if (!view || view.isDisposed) {
        const { JobView } = await import('./lazy');
        view = new JobView({ jobId: id, model, trans });
        views.set(id, view);
        view.disposed.connect(() => views.delete(id));
        app.shell.add(view, 'main');
        if (!view.parent) {
          // Notebook 7 keeps one widget in its main area and ignores others.
          app.shell.add(view, 'right', { rank: 900 });
        }
      }
      app.shell.activateById(view.id);
    };
    const contextOf = (widget: Widget) =>
      docManager?.contextForWidget(widget) ??
      (widget as { context?: ReturnType<IDocumentManager['contextForWidget']> })
        .context;
    const scriptFromBrowser = () => {
      const item = fileBrowser ? [...fileBrowser.selectedItems()][0] : null;
      return item && item.type !== 'directory' ? item.path : null;
    };
    const scriptFromEditor = () => {
      const widget = app.shell.currentWidget;
      return (widget && contextOf(widget)?.path) || null;
    };
    const documents = (): ISavable[] => {
      const savables: ISavable[] = [];
      for (const widget of app.shell.widgets('main')) {
        const context = contextOf(widget);
        if (context && context.model) {
          savables.push({
            path: context.path,
            dirty: context.model.dirty,
            save: () => context.save()
          });
        }
      }
      return savables;
    };

    const sidebar = new ModelArtsSidebar({
      model,
      trans,
      commands: app.commands,
      thresholds,
      openJob,
      scriptFromBrowser,
      scriptFromEditor
    });
    app.shell.add(sidebar, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
    }

    new Notifier({
      model,
      trans,
      saveBeforeStop: () => settings.saveBeforeStop,
      documents,
      renew: hours => app.commands.execute(CommandIDs.renew, { hours }),
      openJob,
      showChecks: () => {
        app.shell.activateById(sidebar.id);
        sidebar.checks.reveal();
      }
    });

    new ActivityReporter(model);

    registerCommands(app, {
      model,
      sidebar,
      trans,
      openJob,
      scriptFromBrowser,
      palette
    });

    if (statusBar) {
      const item = new AutoStopStatus({
        model,
        trans,
        commands: app.commands
      });
      statusBar.registerStatusItem(`${PLUGIN_ID}:status`, {
        item,
        align: 'left',
        rank: 100
      });
    }

    if (settingRegistry) {
      const apply = (loaded: ISettingRegistry.ISettings) => {
        const value = (key: string, fallback: number) => {
          const v = loaded.get(key).composite;
          return typeof v === 'number' ? v : fallback;
        };
        model.pollInterval = value('pollInterval', 10);
        model.countdown.thresholds = {
          warningMinutes: value('warningMinutes', 10),
          criticalMinutes: value('criticalMinutes', 1)
        };
        settings.saveBeforeStop =
          loaded.get('saveBeforeStop').composite !== false;
      };
      void settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          apply(loaded);
          loaded.changed.connect(apply);
        })
        .catch(error =>
          console.error('Could not load the jupyter-modelarts settings', error)
        );
    }
    return model;
  }
};

export default [plugin, outputsPlugin];
