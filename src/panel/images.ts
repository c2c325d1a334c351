import { Notification } from '@jupyterlab/apputils';

import {
  button,
  field,
  formatBytes,
  formatTime,
  h,
  setFieldError
} from '../ui/dom';
import { ModelArtsService } from '../api/service';
import { IPanelContext, Section } from './section';
import { IImage } from '../api/tokens';
import { checkImage } from '../api/validate';

/**
 * Seconds of lease an image save should have left; less, and the lease is renewed first.
 */
const SAVE_LEASE_MARGIN_S = 3600;

/**
 * Image: a save form with its warning, the progress of running saves, the saved images.
 */
export class ImageSection extends Section {
  /**
   * Create the section.
   *
   * @param context What the sections share
   */
  constructor(context: IPanelContext) {
    super(context, 'image', context.trans.__('Image'));
    const trans = this.trans;
    const input = (cls: string, placeholder: string) =>
      h('input', {
        class: `jp-mod-styled ${cls}`,
        type: 'text',
        placeholder,
        spellcheck: 'false',
        oninput: () => this._validate(true)
      });
    this._name = input('jp-ModelArts-imageName', 'my-env');
    this._tag = input('jp-ModelArts-imageTag', 'latest');
    this._namespace = input('jp-ModelArts-imageNamespace', '');
    this._description = h('textarea', {
      class: 'jp-mod-styled jp-ModelArts-imageDescription',
      rows: 2
    });
    const fields = {
      name: field(trans.__('Name'), this._name),
      tag: field(trans.__('Tag'), this._tag),
      namespace: field(trans.__('Namespace'), this._namespace),
      description: field(trans.__('Description'), this._description)
    };
    this._messages = {
      name: fields.name.message,
      tag: fields.tag.message,
      namespace: fields.namespace.message
    };
    this._formMessage = h('div', {
      class: 'jp-ModelArts-fieldMessage',
      'aria-live': 'polite'
    });
    this._submit = button(trans.__('Save image'), () => void 0, 'accept', {
      type: 'submit',
      class: 'jp-Button jp-mod-styled jp-mod-accept jp-ModelArts-imageSubmit'
    });
    this._list = h('ul', { class: 'jp-ModelArts-list jp-ModelArts-images' });
    this.form = h(
      'form',
      {
        class: 'jp-ModelArts-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void this._save();
        }
      },
      h(
        'p',
        { class: 'jp-ModelArts-warning', role: 'note' },
        trans.__(
          'Saving writes the environment (not the work folder) as a container image. On ModelArts the instance cannot be used until the save ends; the lease is renewed first if it would run out.'
        )
      ),
      fields.name.row,
      fields.tag.row,
      fields.namespace.row,
      fields.description.row,
      h('div', { class: 'jp-ModelArts-row' }, this._submit),
      this._formMessage
    );
    this.body.append(this.form, this._list);
    this._validate(false);
  }

  /**
   * The save form (focused by the save-image command).
   */
  readonly form: HTMLFormElement;

  /**
   * Open the section and put the cursor in the name field.
   */
  focus(): void {
    this.node.open = true;
    this._name.focus();
  }

  /**
   * Show the images and the progress of running saves.
   */
  update(): void {
    const images = this.context.model.images;
    if (images.length === 0) {
      this._list.replaceChildren(
        h(
          'li',
          { class: 'jp-ModelArts-info' },
          this.trans.__('No saved images')
        )
      );
      return;
    }
    this._list.replaceChildren(...images.map(i => this._row(i)));
  }

  private _row(image: IImage): HTMLElement {
    const trans = this.trans;
    const running = image.status === 'INIT' || image.status === 'CREATING';
    const ref = `${image.namespace}/${image.name}:${image.tag}`;
    let detail: HTMLElement | null = null;
    if (running) {
      const progress = h('progress', {
        class: 'jp-ModelArts-progress',
        max: image.bytes_total || 1,
        'aria-label': trans.__('Saving %1', ref)
      });
      if (image.bytes_total > 0) {
        progress.value = image.bytes_done;
      } else {
        progress.removeAttribute('value');
      }
      detail = h(
        'div',
        {},
        progress,
        h(
          'div',
          { class: 'jp-ModelArts-sub' },
          image.bytes_total > 0
            ? `${formatBytes(image.bytes_done)} / ${formatBytes(image.bytes_total)}`
            : image.status_message || trans.__('Starting…')
        )
      );
    } else if (image.status === 'CREATE_FAILED') {
      detail = h('div', { class: 'jp-ModelArts-error' }, image.status_message);
    } else {
      detail = h(
        'div',
        { class: 'jp-ModelArts-sub', title: image.location ?? '' },
        [
          image.size_bytes !== null ? formatBytes(image.size_bytes) : '',
          formatTime(image.updated_at)
        ]
          .filter(Boolean)
          .join(' · ')
      );
    }
    return h(
      'li',
      {
        class: 'jp-ModelArts-image',
        'data-status': image.status,
        'data-ref': ref
      },
      h(
        'div',
        { class: 'jp-ModelArts-row' },
        h('span', { class: 'jp-ModelArts-imageRef' }, ref),
        h(
          'span',
          { class: 'jp-ModelArts-badge', 'data-status': image.status },
          running ? h('span', { class: 'jp-ModelArts-spinner' }) : null,
          image.status
        )
      ),
      detail
    );
  }

  private _values(): { name: string; tag: string; namespace: string } {
    return {
      name: this._name.value.trim(),
      tag: this._tag.value.trim(),
      namespace: this._namespace.value.trim()
    };
  }

  private _validate(show: boolean): boolean {
    const values = this._values();
    const problems = checkImage(values, this.trans);
    if (show) {
      setFieldError(
        this._name,
        this._messages.name,
        values.name ? (problems.name ?? null) : null
      );
      setFieldError(this._tag, this._messages.tag, problems.tag ?? null);
      setFieldError(
        this._namespace,
        this._messages.namespace,
        problems.namespace ?? null
      );
    }
    const ok = Object.keys(problems).length === 0;
    this._submit.disabled = !ok;
    return ok;
  }

  private async _save(): Promise<void> {
    if (!this._validate(true)) {
      return;
    }
    const trans = this.trans;
    const { model } = this.context;
    this._submit.disabled = true;
    this._formMessage.textContent = '';
    try {
      const remaining = model.countdown.remaining();
      if (remaining !== null && remaining < SAVE_LEASE_MARGIN_S * 1000) {
        await model.renew(SAVE_LEASE_MARGIN_S / 3600);
        Notification.info(
          trans.__(
            'Auto-stop renewed to 1 hour so that the image save can finish.'
          ),
          { autoClose: 5000 }
        );
      }
      const values = this._values();
      const image = await model.service.saveImage({
        name: values.name,
        tag: values.tag || 'latest',
        namespace: values.namespace || null,
        description: this._description.value
      });
      model.addImage(image);
      this._name.value = '';
      this._tag.value = '';
      this._description.value = '';
    } catch (error) {
      const message = ModelArtsService.errorMessage(error);
      const at = ModelArtsService.errorField(error);
      if (at === 'name' || at === 'tag' || at === 'namespace') {
        const control =
          at === 'name'
            ? this._name
            : at === 'tag'
              ? this._tag
              : this._namespace;
        setFieldError(control, this._messages[at], message);
      } else {
        this._formMessage.textContent = message;
      }
    } finally {
      this._submit.disabled = !this._validate(false);
    }
  }

  private _name: HTMLInputElement;
  private _tag: HTMLInputElement;
  private _namespace: HTMLInputElement;
  private _description: HTMLTextAreaElement;
  private _messages: Record<'name' | 'tag' | 'namespace', HTMLElement>;
  private _formMessage: HTMLElement;
  private _submit: HTMLButtonElement;
  private _list: HTMLElement;
}
