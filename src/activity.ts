import { IModelArtsModel } from './api/interfaces';

/**
 * The user's own input that counts as activity for an IDLE lease. API polling and the event
 * stream never pass through here, so they never keep an idle instance up.
 */
const INPUT_EVENTS = ['keydown', 'pointerdown', 'wheel'] as const;

/**
 * Tells the server (`POST /activity`) that the user acts in this page, at most once a
 * minute, and only while the lease is IDLE (a TIMING lease does not care).
 */
export class ActivityReporter {
  /**
   * Start listening to the page.
   *
   * @param model The shared model (its lease, and the call)
   * @param target Where to listen, the document by default
   */
  constructor(model: IModelArtsModel, target: EventTarget = document) {
    this._model = model;
    this._target = target;
    for (const type of INPUT_EVENTS) {
      target.addEventListener(type, this, { capture: true, passive: true });
    }
  }

  /**
   * Note one input event.
   */
  handleEvent(): void {
    const now = Date.now();
    if (
      now - this._sentAt < ActivityReporter.INTERVAL_MS ||
      this._model.countdown.kind !== 'IDLE'
    ) {
      return;
    }
    this._sentAt = now;
    this._model.noteActivity().catch(error => {
      // A failed note is only a missed one: the next input a minute on tries again.
      console.warn('Could not report activity for idle auto-stop', error);
    });
  }

  /**
   * Stop listening.
   */
  dispose(): void {
    for (const type of INPUT_EVENTS) {
      this._target.removeEventListener(type, this, { capture: true });
    }
  }

  private _model: IModelArtsModel;
  private _target: EventTarget;
  private _sentAt = -Infinity;
}

/**
 * A namespace for ActivityReporter statics.
 */
export namespace ActivityReporter {
  /**
   * At most one report in this many milliseconds.
   */
  export const INTERVAL_MS = 60000;
}
