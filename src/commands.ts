import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  deleteIcon,
  launchIcon,
  refreshIcon,
  stopIcon
} from '@jupyterlab/ui-components';

import { formatRemaining, formatSpan } from './api/countdown';
import { IModelArtsModel } from './api/interfaces';
import { ModelArtsService } from './api/service';
import { CommandIDs } from './commandids';
import { saveImage } from './panel/images';
import { renewLease } from './panel/instance';
import { submitJob } from './panel/jobs';
import { JobsView } from './panel/jobsview';
import type { ModelArtsSidebar } from './panel/sidebar';
import { mountFolder } from './panel/storage';
import { modelartsIcon, renewIcon } from './ui/icons';

export { CommandIDs };

/**
 * Register the commands, the job rows' context menu, and the palette items.
 *
 * @param app The application
 * @param options What the commands act on
 */
export function registerCommands(
  app: JupyterFrontEnd,
  options: {
    model: IModelArtsModel;
    sidebar: ModelArtsSidebar;
    trans: TranslationBundle;
    openJob: (id: string) => void;
    scriptFromBrowser: () => string | null;
    palette: ICommandPalette | null;
  }
): void {
  const { model, sidebar, trans, palette } = options;
  const { commands } = app;
  const context = sidebar.context;
  const category = trans.__('ModelArts');
  const failed = (error: unknown) =>
    Notification.error(ModelArtsService.errorMessage(error, trans), {
      autoClose: 8000
    });

  /** The job a command is for: its `id` argument, or the row the context menu is for. */
  const jobOf = (args: { id?: unknown; row?: unknown }): string | null => {
    if (typeof args.id === 'string' && args.id) {
      return args.id;
    }
    if (!args.row) {
      return null;
    }
    const row = app.contextMenuHitTest(node =>
      node.classList.contains('jp-ModelArts-job')
    );
    return row?.dataset.id ?? null;
  };
  const phaseOf = (id: string | null) =>
    id ? (model.jobSummary(id)?.phase ?? null) : null;
  const ended = (phase: string | null) =>
    phase === 'Completed' ||
    phase === 'Failed' ||
    phase === 'Terminated' ||
    phase === 'Abnormal';

  commands.addCommand(CommandIDs.open, {
    describedBy: { args: { type: 'object', properties: {} } },
    label: trans.__('Open ModelArts Panel'),
    caption: trans.__('Show the ModelArts panel in the left sidebar'),
    icon: args => (args.isPalette ? undefined : modelartsIcon),
    execute: () => app.shell.activateById(sidebar.id)
  });

  commands.addCommand(CommandIDs.renew, {
    describedBy: {
      args: {
        type: 'object',
        properties: { hours: { type: 'number', minimum: 1, maximum: 72 } }
      }
    },
    label: args =>
      args.hours
        ? trans._n(
            'Renew Auto-stop for %1 Hour',
            'Renew Auto-stop for %1 Hours',
            Number(args.hours)
          )
        : trans.__('Renew Auto-stop…'),
    caption: trans.__('Counts from now'),
    icon: args => (args.isPalette ? undefined : renewIcon),
    isEnabled: () => model.countdown.enabled,
    execute: async args => {
      if (!args.hours) {
        await renewLease(context);
        return;
      }
      try {
        const lease = await model.renew(Number(args.hours));
        Notification.success(
          lease.type === 'IDLE'
            ? trans.__(
                'Auto-stop renewed: the instance stops after %1 idle.',
                formatSpan((lease.duration_s ?? 0) * 1000)
              )
            : trans.__(
                'Auto-stop renewed: the instance stops in %1.',
                formatRemaining(model.countdown.remaining() ?? 0)
              ),
          { autoClose: 4000 }
        );
      } catch (error) {
        failed(error);
      }
    }
  });

  commands.addCommand(CommandIDs.saveImage, {
    describedBy: { args: { type: 'object', properties: {} } },
    label: trans.__('Save Instance as Image…'),
    icon: args => (args.isPalette ? undefined : addIcon),
    execute: async () => {
      await saveImage(context);
    }
  });

  commands.addCommand(CommandIDs.mount, {
    describedBy: { args: { type: 'object', properties: {} } },
    label: trans.__('Mount OBS Folder…'),
    icon: args => (args.isPalette ? undefined : addIcon),
    execute: async () => {
      await mountFolder(context);
    }
  });

  commands.addCommand(CommandIDs.stopJob, {
    describedBy: {
      args: {
        type: 'object',
        properties: { id: { type: 'string' }, row: { type: 'boolean' } }
      }
    },
    // Without a job it asks which one.
    label: args =>
      args.id || args.row
        ? trans.__('Stop Training Job')
        : trans.__('Stop Training Job…'),
    icon: args => (args.isPalette ? undefined : stopIcon),
    isEnabled: args => {
      const id = jobOf(args);
      if (id) {
        const phase = phaseOf(id);
        return !ended(phase) && phase !== 'Terminating';
      }
      return model.jobs.some(j => !ended(j.phase));
    },
    execute: async args => {
      let id = jobOf(args);
      if (!id) {
        const running = model.jobs.filter(
          j => !ended(j.phase) && j.phase !== 'Terminating'
        );
        const labels = running.map(j => `${j.name} (${j.phase}, ${j.id})`);
        const choice = await InputDialog.getItem({
          title: trans.__('Stop which job?'),
          items: labels
        });
        if (!choice.button.accept || choice.value === null) {
          return;
        }
        id = running[labels.indexOf(choice.value)]?.id ?? null;
      }
      if (!id) {
        return;
      }
      try {
        model.updateJob(await model.service.stopJob(id));
      } catch (error) {
        failed(error);
      }
    }
  });

  commands.addCommand(CommandIDs.deleteJob, {
    describedBy: {
      args: {
        type: 'object',
        properties: { id: { type: 'string' }, row: { type: 'boolean' } }
      }
    },
    label: trans.__('Delete Training Job…'),
    icon: args => (args.isPalette ? undefined : deleteIcon),
    isEnabled: args => ended(phaseOf(jobOf(args))),
    execute: async args => {
      const id = jobOf(args);
      if (!id) {
        return;
      }
      const name = model.jobSummary(id)?.name ?? id;
      const result = await showDialog({
        title: trans.__('Delete %1?', name),
        body: trans.__(
          'The job, its logs and its code snapshot are deleted; its outputs stay where they were written.'
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({ label: trans.__('Delete') })
        ]
      });
      if (!result.button.accept) {
        return;
      }
      try {
        await model.service.deleteJob(id);
        model.removeJob(id);
      } catch (error) {
        failed(error);
      }
    }
  });

  commands.addCommand(CommandIDs.openJob, {
    describedBy: {
      args: {
        type: 'object',
        properties: { id: { type: 'string' }, row: { type: 'boolean' } }
      }
    },
    label: trans.__('Open Training Job'),
    icon: args => (args.isPalette ? undefined : launchIcon),
    execute: args => {
      const id = jobOf(args);
      if (id) {
        options.openJob(id);
      }
    }
  });

  let jobsView: JobsView | null = null;
  commands.addCommand(CommandIDs.openJobs, {
    describedBy: { args: { type: 'object', properties: {} } },
    label: trans.__('Open Training Jobs in the Main Area'),
    caption: trans.__('The jobs list, wider and with more columns'),
    execute: () => {
      let view = jobsView;
      if (!view || view.isDisposed) {
        view = jobsView = new JobsView(context);
        app.shell.add(view, 'main');
        if (!view.parent) {
          // Notebook 7 keeps one widget in its main area and ignores others.
          app.shell.add(view, 'right', { rank: 900 });
        }
      }
      app.shell.activateById(view.id);
    }
  });

  commands.addCommand(CommandIDs.submitScript, {
    describedBy: {
      args: { type: 'object', properties: { path: { type: 'string' } } }
    },
    label: trans.__('Submit as Training Job…'),
    caption: trans.__('Submit a script as a ModelArts training job'),
    icon: args => (args.isPalette ? undefined : addIcon),
    execute: async args => {
      const path = (args.path as string) || options.scriptFromBrowser();
      await submitJob(context, path);
    }
  });

  commands.addCommand(CommandIDs.runChecks, {
    describedBy: { args: { type: 'object', properties: {} } },
    label: trans.__('Run ModelArts Checks'),
    caption: trans.__(
      'Check the credentials, agency, OBS, IAM actions and workspace again'
    ),
    icon: args => (args.isPalette ? undefined : refreshIcon),
    isEnabled: () => !model.doctorRunning,
    execute: async () => {
      app.shell.activateById(sidebar.id);
      sidebar.checks.reveal();
      await model.runDoctor();
    }
  });

  commands.addCommand(CommandIDs.refresh, {
    describedBy: { args: { type: 'object', properties: {} } },
    label: trans.__('Refresh ModelArts State'),
    icon: args => (args.isPalette ? undefined : refreshIcon),
    execute: () => model.refresh()
  });

  // Enablement follows the jobs (stop, delete), the lease (renew) and the checks' run.
  model.changed.connect(() => {
    for (const id of [
      CommandIDs.renew,
      CommandIDs.stopJob,
      CommandIDs.deleteJob,
      CommandIDs.runChecks
    ]) {
      commands.notifyCommandChanged(id);
    }
  });

  app.contextMenu.addItem({
    command: CommandIDs.submitScript,
    selector: '.jp-DirListing-item[data-file-type="python"]',
    rank: 60
  });
  for (const [rank, command] of [
    CommandIDs.openJob,
    CommandIDs.stopJob,
    CommandIDs.deleteJob
  ].entries()) {
    // `row`: the job is the row under the menu (a later run from the palette is not).
    app.contextMenu.addItem({
      command,
      selector: '.jp-ModelArts-job',
      rank,
      args: { row: true }
    });
  }

  if (palette) {
    for (const command of [
      CommandIDs.open,
      CommandIDs.openJobs,
      CommandIDs.renew,
      CommandIDs.mount,
      CommandIDs.saveImage,
      CommandIDs.submitScript,
      CommandIDs.stopJob,
      CommandIDs.runChecks,
      CommandIDs.refresh
    ]) {
      palette.addItem({ command, category });
    }
    for (const hours of [1, 4]) {
      palette.addItem({ command: CommandIDs.renew, category, args: { hours } });
    }
  }
}
