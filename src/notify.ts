import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatRemaining } from './api/countdown';
import { IModelArtsModel, ModelPart } from './api/interfaces';
import { IImage, IJobSummary, IMount } from './api/tokens';

/**
 * A document that may need saving before the instance stops.
 */
export interface ISavable {
  /** Its server path, shown to the user. */
  path: string;
  /** Whether it has unsaved changes. */
  dirty: boolean;
  /** Save it. */
  save: () => Promise<void>;
}

/**
 * Save every document with unsaved changes.
 *
 * @param documents The open documents (duplicates by path are saved once)
 * @returns The paths saved and those that failed
 */
export async function saveDirty(
  documents: ISavable[]
): Promise<{ saved: string[]; failed: string[] }> {
  const seen = new Set<string>();
  const saved: string[] = [];
  const failed: string[] = [];
  for (const doc of documents) {
    if (!doc.dirty || seen.has(doc.path)) {
      continue;
    }
    seen.add(doc.path);
    try {
      await doc.save();
      saved.push(doc.path);
    } catch (error) {
      console.error(`Could not save ${doc.path} before auto-stop`, error);
      failed.push(doc.path);
    }
  }
  return { saved, failed };
}

/**
 * The notifications of the extension, all fed by the shared model: auto-stop warnings (with
 * a Renew action) and the save of open documents a minute before the stop; jobs that end;
 * image saves that end; mounts that fail; failing checks, once per page load.
 */
export class Notifier {
  /**
   * Start listening to the model.
   *
   * @param options The notifier options
   */
  constructor(options: Notifier.IOptions) {
    this._options = options;
    const { model } = options;
    model.tick.connect(this._onTick, this);
    model.changed.connect(this._onTick, this);
    model.jobEnded.connect(this._onJobEnded, this);
    model.imageEnded.connect(this._onImageEnded, this);
    model.mountFailed.connect(this._onMountFailed, this);
    model.partChanged.connect(this._onPart, this);
  }

  private _onTick(): void {
    const { model, trans } = this._options;
    const { warningMinutes, criticalMinutes } = model.countdown.thresholds;
    const remaining = model.countdown.remaining();
    const stopAt = model.countdown.stopAt;
    if (remaining === null || stopAt === null) {
      return;
    }
    const idle = model.countdown.kind === 'IDLE';
    // One warning per threshold and lease: a renewal moves stopAt and re-arms them (so does
    // activity, for an IDLE lease: its projected stop is a new one, to the minute).
    const lease = idle
      ? `idle ${Math.round(stopAt / 60000)}`
      : String(Math.round(stopAt / 1000));
    const critical = remaining <= criticalMinutes * 60000;
    const warning = remaining <= warningMinutes * 60000;
    if (critical && this._done.get('save') !== lease) {
      this._done.set('save', lease);
      this._done.set('critical', lease);
      this._done.set('warning', lease);
      void this._saveBeforeStop(remaining);
    } else if (warning && !critical && this._done.get('warning') !== lease) {
      this._done.set('warning', lease);
      this._warn(
        idle
          ? trans.__(
              'This instance has been idle and stops in %1 if nothing happens.',
              formatRemaining(remaining)
            )
          : trans.__(
              'This instance stops in %1 unless auto-stop is renewed.',
              formatRemaining(remaining)
            ),
        'warning'
      );
    }
  }

  private _warn(message: string, type: 'warning' | 'error'): void {
    const { model, trans, renew } = this._options;
    if (this._warningId) {
      Notification.dismiss(this._warningId);
    }
    // IDLE: keeping on working is enough; the click is activity, told at once (not throttled).
    const keepWorking =
      model.countdown.kind === 'IDLE'
        ? [
            {
              label: trans.__('Keep working'),
              caption: trans.__(
                'Count this as activity: the idle period starts again'
              ),
              displayType: 'accent' as const,
              callback: () => {
                model.noteActivity().catch(error => {
                  console.warn('Could not report activity', error);
                });
              }
            }
          ]
        : [];
    this._warningId = Notification.emit(message, type, {
      autoClose: false,
      actions: [
        ...keepWorking,
        {
          label: trans.__('Renew 1 hour'),
          caption: trans.__('Renew auto-stop for 1 hour from now'),
          displayType: 'accent',
          callback: () => void renew(1)
        },
        {
          label: trans.__('Renew 4 hours'),
          callback: () => void renew(4)
        }
      ]
    });
  }

  private async _saveBeforeStop(remaining: number): Promise<void> {
    const { trans, documents, saveBeforeStop } = this._options;
    const when = formatRemaining(remaining);
    if (!saveBeforeStop()) {
      this._warn(
        this._options.model.countdown.kind === 'IDLE'
          ? trans.__('This instance stops in %1 if nothing happens.', when)
          : trans.__('This instance stops in %1.', when),
        'error'
      );
      return;
    }
    const { saved, failed } = await saveDirty(documents());
    let message: string;
    if (saved.length > 0) {
      message = trans._n(
        'This instance stops in %2. Saved %1 document: %3',
        'This instance stops in %2. Saved %1 documents: %3',
        saved.length,
        when,
        saved.join(', ')
      );
    } else {
      message = trans.__(
        'This instance stops in %1. Every open document was already saved.',
        when
      );
    }
    if (failed.length > 0) {
      message += ' ' + trans.__('Could not save: %1', failed.join(', '));
    }
    this._warn(message, 'error');
  }

  private _onJobEnded(_: IModelArtsModel, job: IJobSummary): void {
    const { trans, openJob } = this._options;
    const type =
      job.phase === 'Completed'
        ? 'success'
        : job.phase === 'Terminated'
          ? 'info'
          : 'error';
    const text = job.message
      ? trans.__('Job %1: %2. %3', job.name, job.phase, job.message)
      : trans.__('Job %1: %2', job.name, job.phase);
    Notification.emit(text, type, {
      autoClose: 8000,
      actions: [
        {
          label: trans.__('Show'),
          callback: () => openJob(job.id)
        }
      ]
    });
  }

  private _onImageEnded(_: IModelArtsModel, image: IImage): void {
    const { trans } = this._options;
    const ref = `${image.namespace}/${image.name}:${image.tag}`;
    if (image.status === 'ACTIVE') {
      Notification.success(trans.__('Image %1 saved (ACTIVE).', ref), {
        autoClose: 8000
      });
    } else {
      Notification.error(
        trans.__('Image %1 failed: %2', ref, image.status_message),
        { autoClose: false }
      );
    }
  }

  private _onMountFailed(_: IModelArtsModel, mount: IMount): void {
    const { trans } = this._options;
    Notification.error(
      trans.__(
        '%1 of %2 failed: %3',
        mount.status === 'MOUNT_FAILED'
          ? trans.__('Mount')
          : trans.__('Unmount'),
        mount.mount_path,
        mount.failure_reason ?? ''
      ),
      { autoClose: false }
    );
  }

  private _onPart(model: IModelArtsModel, part: ModelPart): void {
    if (part !== 'doctor' || this._checksAnnounced) {
      return;
    }
    const failing = model.failingChecks;
    if (failing.length === 0) {
      return;
    }
    this._checksAnnounced = true;
    const { trans, showChecks } = this._options;
    Notification.warning(
      trans._n(
        'A ModelArts check fails: %2',
        '%1 ModelArts checks fail: %2',
        failing.length,
        failing.map(c => c.title).join(', ')
      ),
      {
        autoClose: 10000,
        actions: [{ label: trans.__('Show'), callback: showChecks }]
      }
    );
  }

  private _options: Notifier.IOptions;
  private _checksAnnounced = false;
  private _done = new Map<string, string>();
  private _warningId = '';
}

/**
 * A namespace for Notifier statics.
 */
export namespace Notifier {
  /**
   * The options used to create a Notifier.
   */
  export interface IOptions {
    /** The shared model. */
    model: IModelArtsModel;
    /** The translation bundle. */
    trans: TranslationBundle;
    /** Whether to save open documents before the stop. */
    saveBeforeStop: () => boolean;
    /** The open documents. */
    documents: () => ISavable[];
    /** Renew the lease. */
    renew: (hours: number) => Promise<unknown>;
    /** Open the view of a job. */
    openJob: (id: string) => void;
    /** Show the checks in the panel. */
    showChecks: () => void;
  }
}
