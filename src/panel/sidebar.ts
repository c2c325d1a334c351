import { SidePanel } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { Panel, PanelLayout, SplitPanel, Widget } from '@lumino/widgets';

import { h } from '../ui/dom';
import { modelartsIcon } from '../ui/icons';
import { ChecksSection } from './checks';
import { ImageSection } from './images';
import { InstancePart, LeasePart } from './instance';
import { JobsSection } from './jobs';
import { IPanelContext } from './section';
import { StorageSection } from './storage';
import { WorkspacePart } from './workspace';

/**
 * The DOM id of the sidebar panel.
 */
export const SIDEBAR_ID = 'jupyter-modelarts-sidebar';

/**
 * The left sidebar panel, built like JupyterLab's own side panels: a head with the notice of
 * failing checks, the instance, the auto-stop countdown and the workspace, then folding
 * sections (training jobs first, storage, images, checks) whose title bars carry their LabIcon
 * buttons. Forms open in dialogs; every part is fed by
 * the one shared model and shows its own error without blanking the others.
 */
export class ModelArtsSidebar extends SidePanel {
  /**
   * Create the sidebar panel.
   *
   * @param context What the parts share
   */
  constructor(context: IPanelContext) {
    super();
    const { trans, model } = context;
    this.context = context;
    this.id = SIDEBAR_ID;
    this.addClass('jp-ModelArts-sidebar');
    this.title.icon = modelartsIcon;
    this.title.caption = trans.__('ModelArts');

    this._live = h('span', { class: 'jp-ModelArts-live' });
    this.header.addWidget(
      new Widget({
        node: h(
          'h2',
          { class: 'jp-ModelArts-header' },
          trans.__('ModelArts'),
          this._live
        )
      })
    );

    this.jobs = new JobsSection(context);
    const storage = new StorageSection(context);
    const images = new ImageSection(context);
    this.checks = new ChecksSection(context);

    const head = new Panel();
    head.addClass('jp-ModelArts-head');
    head.addWidget(this.checks.notice);
    head.addWidget(new InstancePart(context));
    head.addWidget(new LeasePart(context));
    head.addWidget(new WorkspacePart(context));
    // Between the header and the sections.
    (this.layout as PanelLayout).insertWidget(1, head);

    // The jobs list gets most of the height as it grows; the user can drag the handles.
    SplitPanel.setStretch(this.jobs, 3);
    SplitPanel.setStretch(storage, 1);
    SplitPanel.setStretch(images, 1);
    SplitPanel.setStretch(this.checks, 1);
    this.addWidget(this.jobs);
    this.addWidget(storage);
    this.addWidget(images);
    this.addWidget(this.checks);
    // Folded to its title bar until a check fails.
    this.checks.setOpen(false);

    model.changed.connect(this._showLive, this);
    this._showLive();
  }

  /**
   * What the parts share.
   */
  readonly context: IPanelContext;

  /**
   * The training jobs section.
   */
  readonly jobs: JobsSection;

  /**
   * The checks section.
   */
  readonly checks: ChecksSection;

  /**
   * Disconnect from the model.
   */
  dispose(): void {
    Signal.disconnectReceiver(this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._opened();
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._opened();
  }

  /**
   * The panel shows for the first time: the report of the checks is fetched (the server keeps
   * it; later ones are pushed or asked for).
   */
  private _opened(): void {
    if (!this._doctorAsked) {
      this._doctorAsked = true;
      void this.context.model.loadDoctor();
    }
  }

  private _showLive(): void {
    const { model, trans } = this.context;
    const state = model.ready ? String(model.live) : '';
    if (this._live.dataset.live !== state) {
      this._live.dataset.live = state;
      this._live.title =
        state === 'true'
          ? trans.__('Updates arrive as they happen')
          : state === 'false'
            ? trans.__('The update stream is down: checking every few seconds')
            : '';
    }
  }

  private _live: HTMLElement;
  private _doctorAsked = false;
}
