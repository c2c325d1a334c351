import { MainAreaWidget } from '@jupyterlab/apputils';
import { addIcon, refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';

import { CommandIDs } from '../commandids';
import { modelartsIcon } from '../ui/icons';
import { JobList } from './joblist';
import { IPanelContext } from './section';

/**
 * The DOM id of the main-area jobs view.
 */
export const JOBS_VIEW_ID = 'jupyter-modelarts-jobs';

/**
 * The training jobs in the main area, for when the sidebar is too narrow: the same list, one
 * line per job with more columns and sortable headers.
 */
export class JobsView extends MainAreaWidget<JobList> {
  /**
   * Create the view.
   *
   * @param context What the panel's parts share
   */
  constructor(context: IPanelContext) {
    super({ content: new JobList({ context, wide: true }) });
    const { trans, commands } = context;
    this.id = JOBS_VIEW_ID;
    this.addClass('jp-ModelArts-jobsView');
    this.title.label = trans.__('Training Jobs');
    this.title.icon = modelartsIcon;
    this.title.closable = true;
    this.toolbar.addItem(
      'submitJob',
      new ToolbarButton({
        icon: addIcon,
        label: trans.__('Submit'),
        tooltip: trans.__('Submit a training job…'),
        className: 'jp-ModelArts-submitJob',
        onClick: () => void commands.execute(CommandIDs.submitScript)
      })
    );
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Refresh'),
        className: 'jp-ModelArts-refresh',
        onClick: () => void context.model.refresh().catch(() => undefined)
      })
    );
  }
}
