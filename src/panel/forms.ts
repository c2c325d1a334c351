import { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { ModelArtsService } from '../api/service';
import { field, h, setFieldError } from '../ui/dom';

/**
 * The body of a form dialog: fields checked as you type (a field shows its problem once it
 * was typed in, every field once a send was tried), and the server's 4xx shown next to the
 * field it names.
 */
export abstract class FormBody extends Widget {
  /**
   * Create the form.
   *
   * @param trans The translation bundle
   * @param className The form's own class
   */
  constructor(trans: TranslationBundle, className: string) {
    super({
      node: h('form', {
        class: `jp-ModelArts-form ${className}`,
        novalidate: true
      })
    });
    this.trans = trans;
    this.message = h('div', {
      class: 'jp-ModelArts-fieldMessage jp-ModelArts-formMessage',
      'aria-live': 'polite'
    });
    this.node.addEventListener('submit', event => event.preventDefault());
  }

  /**
   * The problems of the values as they are, by field key (empty when they can be sent).
   */
  protected abstract problems(): Record<string, string>;

  /**
   * Send the form; throws the server's error.
   */
  abstract send(): Promise<void>;

  /**
   * The field key a server error names (`field` of the 4xx), or null for the form message.
   *
   * @param name The request field
   * @returns The key
   */
  protected fieldFor(name: string): string | null {
    return this._fields.has(name) ? name : null;
  }

  /**
   * The accept button of the dialog, disabled while the form can't be sent.
   */
  acceptButton: HTMLButtonElement | null = null;

  /**
   * Check the values; show the problems of the typed fields (of all with `all`).
   *
   * @param all Whether to show every field's problem
   * @returns Whether the form can be sent
   */
  check(all = false): boolean {
    const problems = this.problems();
    for (const [key, { control, message }] of this._fields) {
      const shown = all || this._touched.has(key);
      const text = (shown ? problems[key] : null) ?? this._refusals.get(key);
      setFieldError(control, message, text ?? null);
    }
    const ok = Object.keys(problems).length === 0;
    if (this.acceptButton) {
      this.acceptButton.disabled = !ok;
    }
    return ok;
  }

  /**
   * Show a failed send: next to the field the server named (until it changes), else under
   * the form; `check` draws it.
   *
   * @param error The error thrown by `send`
   */
  showFailure(error: unknown): void {
    const text = ModelArtsService.errorMessage(error, this.trans);
    const named = ModelArtsService.errorField(error);
    const key = named === null ? null : this.fieldFor(named);
    const entry = key === null ? undefined : this._fields.get(key);
    if (key !== null && entry) {
      this._refusals.set(key, text);
      entry.control.focus();
    } else {
      this.message.textContent = text;
    }
  }

  /**
   * Make a field row for a control, checked as it is typed in.
   *
   * @param key The field key (as the server names it)
   * @param label The label
   * @param control The input, select or textarea
   * @returns The row
   */
  protected addField(
    key: string,
    label: string,
    control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement
  ): HTMLElement {
    const { row, message } = field(label, control);
    this._fields.set(key, { control, message });
    const changed = () => {
      this._touched.add(key);
      this._refusals.delete(key);
      this.message.textContent = '';
      this.onChange(key);
      this.check();
    };
    control.addEventListener('input', changed);
    control.addEventListener('change', changed);
    return row;
  }

  /**
   * A hook run when a field changed, before the check.
   *
   * @param key The field key
   */
  protected onChange(key: string): void {
    // Most forms derive nothing from their fields.
  }

  /**
   * The translation bundle.
   */
  readonly trans: TranslationBundle;
  protected readonly message: HTMLElement;
  private _fields = new Map<
    string,
    { control: HTMLElement; message: HTMLElement }
  >();
  private _touched = new Set<string>();
  // The server's refusal of a field's value, shown until the field changes.
  private _refusals = new Map<string, string>();
}

/**
 * A dialog that stays open until its form is sent: the accept button sends, and a refusal
 * shows in the form instead of closing it.
 */
class FormDialog extends Dialog<void> {
  constructor(options: Partial<Dialog.IOptions<void>>, form: FormBody) {
    super(options);
    this.addClass('jp-ModelArts-dialog');
    this._form = form;
  }

  resolve(index?: number): void {
    // The buttons are [cancel, accept]; Enter resolves with the default, the accept.
    if (index === 0) {
      super.resolve(index);
      return;
    }
    if (this._sending || !this._form.check(true)) {
      return;
    }
    this._sending = true;
    const accept = this._form.acceptButton;
    if (accept) {
      accept.disabled = true;
    }
    this._form
      .send()
      .then(() => super.resolve(1))
      .catch(error => {
        this._form.showFailure(error);
        this._form.check();
      })
      .finally(() => {
        this._sending = false;
      });
  }

  handleEvent(event: Event): void {
    // JupyterLab 4.0's dialog takes Enter anywhere as accept: a textarea needs its new lines.
    if (
      event.type === 'keydown' &&
      (event as KeyboardEvent).key === 'Enter' &&
      event.target instanceof HTMLTextAreaElement
    ) {
      return;
    }
    super.handleEvent(event);
  }

  private _form: FormBody;
  private _sending = false;
}

/**
 * Show a form in a dialog until it is sent or cancelled.
 *
 * @param form The form
 * @param title The dialog's title
 * @param accept The accept button's label
 * @returns Whether the form was sent
 */
export async function showForm(
  form: FormBody,
  title: string,
  accept: string
): Promise<boolean> {
  const trans = form.trans;
  const dialog = new FormDialog(
    {
      title,
      body: form,
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: accept })
      ],
      focusNodeSelector: 'input, select, textarea'
    },
    form
  );
  form.acceptButton = dialog.node.querySelector<HTMLButtonElement>(
    '.jp-Dialog-button.jp-mod-accept'
  );
  form.check();
  const result = await dialog.launch();
  return result.button.accept;
}
