import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  Notification
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatRemaining } from './api/countdown';
import { isFinal, ModelArtsModel } from './api/model';
import { ModelArtsService } from './api/service';
import { ModelArtsSidebar } from './panel/sidebar';

/**
 * The command ids of the extension.
 */
export namespace CommandIDs {
  /** Open the ModelArts panel. */
  export const open = 'jupyter-modelarts:open';
  /** Renew auto-stop; args `{hours}` (1 by default). */
  export const renew = 'jupyter-modelarts:renew';
  /** Open the image save form. */
  export const saveImage = 'jupyter-modelarts:save-image';
  /** Stop a job; args `{id}`, or pick a running job. */
  export const stopJob = 'jupyter-modelarts:stop-job';
  /** Open the view of a job; args `{id}`. */
  export const openJob = 'jupyter-modelarts:open-job';
  /** Fill the submit form with a script; args `{path}`, or the file browser's selection. */
  export const submitScript = 'jupyter-modelarts:submit-script';
  /** Fetch fresh state now. */
  export const refresh = 'jupyter-modelarts:refresh';
}

/**
 * Register the commands and put the main ones in the palette.
 *
 * @param app The application
 * @param options What the commands act on
 */
export function registerCommands(
  app: JupyterFrontEnd,
  options: {
    model: ModelArtsModel;
    sidebar: ModelArtsSidebar;
    trans: TranslationBundle;
    openJob: (id: string) => void;
    scriptFromBrowser: () => string | null;
    palette: ICommandPalette | null;
  }
): void {
  const { model, sidebar, trans, palette } = options;
  const { commands } = app;
  const category = trans.__('ModelArts');

  commands.addCommand(CommandIDs.open, {
    label: trans.__('Open ModelArts Panel'),
    caption: trans.__('Show the ModelArts panel in the left sidebar'),
    execute: () => app.shell.activateById(sidebar.id)
  });

  commands.addCommand(CommandIDs.renew, {
    label: args =>
      args.hours
        ? trans._n(
            'Renew Auto-stop for %1 Hour',
            'Renew Auto-stop for %1 Hours',
            Number(args.hours)
          )
        : trans.__('Renew Auto-stop'),
    caption: trans.__('Counts from now'),
    isEnabled: () => model.countdown.enabled,
    execute: async args => {
      const hours = Number(args.hours ?? 1);
      try {
        await model.renew(hours);
        const remaining = model.countdown.remaining();
        Notification.success(
          trans.__(
            'Auto-stop renewed: the instance stops in %1.',
            formatRemaining(remaining ?? 0)
          ),
          { autoClose: 4000 }
        );
      } catch (error) {
        Notification.error(ModelArtsService.errorMessage(error), {
          autoClose: 8000
        });
      }
    }
  });

  commands.addCommand(CommandIDs.saveImage, {
    label: trans.__('Save Instance as Image…'),
    execute: () => {
      app.shell.activateById(sidebar.id);
      sidebar.images.focus();
    }
  });

  commands.addCommand(CommandIDs.stopJob, {
    label: trans.__('Stop Training Job…'),
    isEnabled: args => !!args.id || model.jobs.some(j => !isFinal(j)),
    execute: async args => {
      let id = args.id as string | undefined;
      if (!id) {
        const running = model.jobs.filter(
          j => !isFinal(j) && j.phase !== 'Terminating'
        );
        const labels = running.map(j => `${j.name} (${j.phase}, ${j.id})`);
        const choice = await InputDialog.getItem({
          title: trans.__('Stop which job?'),
          items: labels
        });
        if (!choice.button.accept || choice.value === null) {
          return;
        }
        id = running[labels.indexOf(choice.value)]?.id;
      }
      if (!id) {
        return;
      }
      try {
        model.updateJob(await model.service.stopJob(id));
      } catch (error) {
        Notification.error(ModelArtsService.errorMessage(error), {
          autoClose: 8000
        });
      }
    }
  });

  commands.addCommand(CommandIDs.openJob, {
    label: trans.__('Open Training Job'),
    execute: args => options.openJob(String(args.id))
  });

  commands.addCommand(CommandIDs.submitScript, {
    label: trans.__('Submit as Training Job…'),
    caption: trans.__('Fill the ModelArts submit form with this script'),
    execute: args => {
      const path = (args.path as string) || options.scriptFromBrowser();
      app.shell.activateById(sidebar.id);
      if (path) {
        sidebar.jobs.prepareSubmit(path);
      }
    }
  });

  commands.addCommand(CommandIDs.refresh, {
    label: trans.__('Refresh ModelArts State'),
    execute: () => model.refresh()
  });

  app.contextMenu.addItem({
    command: CommandIDs.submitScript,
    selector: '.jp-DirListing-item[data-file-type="python"]',
    rank: 60
  });

  if (palette) {
    palette.addItem({ command: CommandIDs.open, category });
    palette.addItem({
      command: CommandIDs.renew,
      category,
      args: { hours: 1 }
    });
    palette.addItem({
      command: CommandIDs.renew,
      category,
      args: { hours: 4 }
    });
    palette.addItem({ command: CommandIDs.saveImage, category });
    palette.addItem({ command: CommandIDs.stopJob, category });
    palette.addItem({ command: CommandIDs.refresh, category });
  }
}
