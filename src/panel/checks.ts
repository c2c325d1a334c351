import {
  checkIcon,
  circleEmptyIcon,
  errorIcon,
  LabIcon,
  refreshIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { CheckStatus, ICheck } from '../api/tokens';
import { formatAgo, formatTime, h } from '../ui/dom';
import { IPanelContext, Section } from './section';

/**
 * The icon of each check status (shown with its word: not colour alone).
 */
const STATUS_ICONS: Record<CheckStatus, LabIcon> = {
  pass: checkIcon,
  fail: errorIcon,
  skipped: circleEmptyIcon
};

/**
 * Checks: whether the credentials, agency, OBS buckets, IAM actions and workspace (or the
 * local folders) allow the work, each with why and, failing, the fix. Folded to its title bar
 * ("All 9 pass · 2 min. ago") while everything passes, opened when a check fails; a notice at
 * the top of the panel (`notice`) points here while any fails.
 */
export class ChecksSection extends Section {
  /**
   * Create the section.
   *
   * @param context What the sections share
   */
  constructor(context: IPanelContext) {
    super(context, 'checks', context.trans.__('Checks'), 'doctor');
    const trans = this.trans;
    const { model } = context;
    this._summary = h('span', { class: 'jp-ModelArts-checksSummary' });
    this.toolbar.addClass('jp-ModelArts-checksBar');
    this.toolbar.insertItem(0, 'summary', new Widget({ node: this._summary }));
    this._run = this.addButton(
      'runChecks',
      refreshIcon,
      trans.__('Run checks again'),
      () => void model.runDoctor()
    );
    this._status = h('div', { class: 'jp-ModelArts-sub' });
    this._list = h('ul', { class: 'jp-ModelArts-list jp-ModelArts-checks' });
    this.body.append(this._status, this._list);

    this._noticeText = h('span');
    this.notice = new Widget({
      node: h(
        'div',
        {
          class: 'jp-ModelArts-warning jp-ModelArts-checksNotice',
          role: 'status'
        },
        this._noticeText,
        ' — ',
        h(
          'button',
          {
            type: 'button',
            class: 'jp-ModelArts-link',
            onclick: () => this.reveal()
          },
          trans.__('see Checks')
        )
      )
    });
    this.notice.hide();

    model.partChanged.connect((_, part) => {
      if (part === 'doctor') {
        this._onDoctor();
      }
    }, this);
    model.tick.connect(this._showSummary, this);
    this._onDoctor();
  }

  /**
   * The notice shown at the top of the panel while a check fails.
   */
  readonly notice: Widget;

  /**
   * Open the section and bring it into view.
   */
  reveal(): void {
    this.setOpen(true);
    this.update();
    this._firstFailing()?.focus();
  }

  /**
   * Show the checks.
   */
  update(): void {
    this.showError();
    const report = this.context.model.doctor;
    this._status.textContent = report?.checked_at
      ? this.trans.__(
          'Checked at %1 · %2 backend, workspace %3',
          formatTime(report.checked_at),
          report.backend,
          report.workspace_id
        )
      : '';
    if (!report) {
      this._list.replaceChildren();
      return;
    }
    this._list.replaceChildren(...report.checks.map(c => this._row(c)));
    if (this._showFailing) {
      this._showFailing = false;
      this._firstFailing()?.scrollIntoView({ block: 'nearest' });
    }
  }

  /**
   * Disconnect from the model.
   */
  dispose(): void {
    Signal.disconnectReceiver(this);
    this.notice.dispose();
    super.dispose();
  }

  /**
   * What shows while the section is folded too: the summary, the button, the notice, and
   * whether the section is open.
   */
  private _onDoctor(): void {
    const { model, trans } = this.context;
    const running = model.doctorRunning;
    if (this._run.enabled === running) {
      this._run.enabled = !running;
    }
    const failing = model.failingChecks.length;
    this.notice.setHidden(failing === 0);
    this._noticeText.textContent = trans._n(
      '%1 check fails',
      '%1 checks fail',
      failing
    );
    this._showSummary();
    // Opened when something fails (or the checks cannot be had), folded when all pass; the
    // user's own folding stands until that changes.
    const state = model.doctor
      ? failing > 0
        ? 'open'
        : 'folded'
      : model.error('doctor')
        ? 'open'
        : this._state;
    if (state !== this._state && !running) {
      this._state = state;
      this._showFailing = state === 'open';
      this.setOpen(state === 'open');
    }
  }

  private _firstFailing(): HTMLElement | null {
    return (
      this._list.querySelector<HTMLElement>('[data-status="fail"]') ??
      this._list.querySelector<HTMLElement>('.jp-ModelArts-check')
    );
  }

  /**
   * The title bar's summary, "All 9 pass · 2 min. ago" (its time moves on with the clock).
   */
  private _showSummary(): void {
    const { model, trans } = this.context;
    const report = model.doctor;
    const checks = report?.checks ?? [];
    const failing = checks.filter(c => c.status === 'fail').length;
    const skipped = checks.filter(c => c.status === 'skipped').length;
    let text: string;
    let state: string;
    if (model.doctorRunning || (!report && !model.error('doctor'))) {
      state = 'running';
      text = trans.__('Running…');
    } else if (!report) {
      state = 'error';
      text = trans.__('Could not check');
    } else {
      state = failing > 0 ? 'fail' : 'pass';
      text =
        failing > 0
          ? trans.__('%1 of %2 fail', failing, checks.length)
          : skipped > 0
            ? trans.__('%1 pass, %2 skipped', checks.length - skipped, skipped)
            : trans.__('All %1 pass', checks.length);
      if (report.checked_at) {
        text += ` · ${formatAgo(report.checked_at)}`;
      }
    }
    this._summary.dataset.state = state;
    if (this._summary.textContent !== text) {
      this._summary.textContent = this._summary.title = text;
    }
  }

  private _row(check: ICheck): HTMLElement {
    const trans = this.trans;
    const words: Record<CheckStatus, string> = {
      pass: trans.__('Pass'),
      fail: trans.__('Fail'),
      skipped: trans.__('Skipped')
    };
    const failed = check.status === 'fail';
    return h(
      'li',
      {
        class: 'jp-ModelArts-check',
        'data-status': check.status,
        'data-id': check.id,
        tabindex: -1
      },
      h(
        'div',
        { class: 'jp-ModelArts-itemLine' },
        STATUS_ICONS[check.status].element({
          tag: 'span',
          className: 'jp-ModelArts-checkIcon'
        }),
        h('span', { class: 'jp-ModelArts-checkTitle' }, check.title),
        h(
          'span',
          { class: 'jp-ModelArts-badge', 'data-check': check.status },
          words[check.status]
        )
      ),
      check.detail
        ? h('div', { class: 'jp-ModelArts-sub' }, check.detail)
        : null,
      failed && check.iam_action
        ? h(
            'div',
            { class: 'jp-ModelArts-sub' },
            check.agency
              ? trans.__(
                  "IAM action %1: the ModelArts agency's right, not yours",
                  check.iam_action
                )
              : trans.__('IAM action %1', check.iam_action)
          )
        : null,
      failed && check.fix
        ? h(
            'div',
            { class: 'jp-ModelArts-checkFix' },
            h('strong', {}, trans.__('Fix:')),
            ' ',
            check.fix
          )
        : null
    );
  }

  /**
   * Open or fold the section (in the panel's accordion).
   *
   * @param open Whether to open it
   */
  setOpen(open: boolean): void {
    const accordion = this.parent;
    if (!(accordion instanceof AccordionPanel)) {
      return;
    }
    // Folded before it was ever laid out, it would have no size to open to: it folds once
    // it has one.
    this._foldWhenSized =
      !open && !this.isHidden && this.node.clientHeight === 0;
    if (this._foldWhenSized) {
      return;
    }
    const index = accordion.widgets.indexOf(this);
    if (open) {
      accordion.expand(index);
    } else {
      accordion.collapse(index);
    }
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    if (this._foldWhenSized && this.node.clientHeight > 0) {
      this.setOpen(false);
    }
  }

  private _summary: HTMLElement;
  private _status: HTMLElement;
  private _list: HTMLElement;
  private _noticeText: HTMLElement;
  private _run: ToolbarButton;
  private _state: 'open' | 'folded' = 'folded';
  private _foldWhenSized = false;
  private _showFailing = false;
}
