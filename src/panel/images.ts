import { Notification } from '@jupyterlab/apputils';
import { addIcon } from '@jupyterlab/ui-components';

import { IImage } from '../api/tokens';
import { checkImage } from '../api/validate';
import { CommandIDs } from '../commandids';
import { formatBytes, formatTime, h } from '../ui/dom';
import { FormBody, showForm } from './forms';
import { IPanelContext, Section } from './section';

/**
 * Seconds of lease an image save should have left; less, and the lease is renewed first.
 */
const SAVE_LEASE_MARGIN_S = 3600;

/**
 * Images: the progress of running saves and the saved images; save behind the title bar's
 * button.
 */
export class ImageSection extends Section {
  /**
   * Create the section.
   *
   * @param context What the sections share
   */
  constructor(context: IPanelContext) {
    super(context, 'image', context.trans.__('Images'), 'images');
    this.addButton(
      'saveImage',
      addIcon,
      this.trans.__('Save the instance as an image…'),
      () => void context.commands.execute(CommandIDs.saveImage)
    );
    this._list = h('ul', { class: 'jp-ModelArts-list jp-ModelArts-images' });
    this.body.append(this._list);
  }

  /**
   * Show the images and the progress of running saves.
   */
  update(): void {
    const failed = this.showError();
    const images = this.context.model.images;
    if (images.length === 0) {
      this._list.replaceChildren(
        failed
          ? ''
          : h(
              'li',
              { class: 'jp-ModelArts-info' },
              this.context.model.ready
                ? this.trans.__('No saved images')
                : this.trans.__('Loading…')
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
    let detail: HTMLElement;
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
        { class: 'jp-ModelArts-itemLine' },
        h('span', { class: 'jp-ModelArts-imageRef', title: ref }, ref),
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

  private _list: HTMLElement;
}

/**
 * The form that saves the instance as an image, with its warning; the lease is renewed
 * first when it would run out during the save.
 */
export class ImageForm extends FormBody {
  /**
   * Create the form.
   *
   * @param context What the panel's parts share
   */
  constructor(context: IPanelContext) {
    super(context.trans, 'jp-ModelArts-imageForm');
    const trans = this.trans;
    this._context = context;
    const input = (cls: string, placeholder: string) =>
      h('input', {
        class: `jp-mod-styled ${cls}`,
        type: 'text',
        placeholder,
        spellcheck: 'false'
      });
    this._name = input('jp-ModelArts-imageName', 'my-env');
    this._tag = input('jp-ModelArts-imageTag', 'latest');
    this._namespace = input('jp-ModelArts-imageNamespace', '');
    this._description = h('textarea', {
      class: 'jp-mod-styled jp-ModelArts-imageDescription',
      rows: 2
    });
    this.node.append(
      h(
        'p',
        { class: 'jp-ModelArts-warning', role: 'note' },
        trans.__(
          'Saving writes the environment (not the work folder) as a container image. On ModelArts the instance cannot be used until the save ends; the lease is renewed first if it would run out.'
        )
      ),
      this.addField('name', trans.__('Name'), this._name),
      this.addField('tag', trans.__('Tag'), this._tag),
      this.addField('namespace', trans.__('Namespace'), this._namespace),
      this.addField('description', trans.__('Description'), this._description),
      this.message
    );
  }

  async send(): Promise<void> {
    const { model } = this._context;
    const remaining = model.countdown.remaining();
    if (remaining !== null && remaining < SAVE_LEASE_MARGIN_S * 1000) {
      await model.renew(SAVE_LEASE_MARGIN_S / 3600);
      Notification.info(
        this.trans.__(
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
  }

  protected problems(): Record<string, string> {
    return checkImage(this._values(), this.trans);
  }

  private _values(): { name: string; tag: string; namespace: string } {
    return {
      name: this._name.value.trim(),
      tag: this._tag.value.trim(),
      namespace: this._namespace.value.trim()
    };
  }

  private _context: IPanelContext;
  private _name: HTMLInputElement;
  private _tag: HTMLInputElement;
  private _namespace: HTMLInputElement;
  private _description: HTMLTextAreaElement;
}

/**
 * Open the save-image dialog.
 *
 * @param context What the panel's parts share
 * @returns Whether a save was started
 */
export function saveImage(context: IPanelContext): Promise<boolean> {
  const trans = context.trans;
  return showForm(
    new ImageForm(context),
    trans.__('Save the instance as an image'),
    trans.__('Save image')
  );
}
