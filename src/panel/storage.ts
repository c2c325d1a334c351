import { Dialog, showDialog } from '@jupyterlab/apputils';

import { button, field, h, setFieldError } from '../ui/dom';
import { ModelArtsService } from '../api/service';
import { IPanelContext, Section } from './section';
import { IMount } from '../api/tokens';
import { checkMountPath, checkObsUri, suggestMountPath } from '../api/validate';

/**
 * Storage: the OBS mounts with their states, a mount form validated as you type, unmount
 * with confirmation.
 */
export class StorageSection extends Section {
  /**
   * Create the section.
   *
   * @param context What the sections share
   */
  constructor(context: IPanelContext) {
    super(context, 'storage', context.trans.__('Storage'));
    const trans = this.trans;
    this._list = h('ul', { class: 'jp-ModelArts-list jp-ModelArts-mounts' });
    this._uri = h('input', {
      class: 'jp-mod-styled jp-ModelArts-mountUri',
      type: 'text',
      placeholder: trans.__('obs://bucket/path/'),
      spellcheck: 'false',
      oninput: () => this._onUriInput()
    });
    this._path = h('input', {
      class: 'jp-mod-styled jp-ModelArts-mountPath',
      type: 'text',
      placeholder: trans.__('/data/name/'),
      spellcheck: 'false',
      oninput: () => {
        this._pathEdited = true;
        this._validate(true);
      }
    });
    const uriField = field(trans.__('OBS folder'), this._uri);
    const pathField = field(trans.__('Mount path'), this._path);
    this._uriMessage = uriField.message;
    this._pathMessage = pathField.message;
    this._formMessage = h('div', {
      class: 'jp-ModelArts-fieldMessage',
      'aria-live': 'polite'
    });
    this._submit = button(trans.__('Mount'), () => void 0, 'accept', {
      type: 'submit',
      class: 'jp-Button jp-mod-styled jp-mod-accept jp-ModelArts-mountSubmit'
    });
    const form = h(
      'form',
      {
        class: 'jp-ModelArts-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void this._mount();
        }
      },
      uriField.row,
      pathField.row,
      h('div', { class: 'jp-ModelArts-row' }, this._submit),
      this._formMessage
    );
    this.body.append(this._list, form);
    this._validate(false);
  }

  /**
   * Show the mounts.
   */
  update(): void {
    const mounts = this.context.model.mounts;
    if (mounts.length === 0) {
      this._list.replaceChildren(
        h('li', { class: 'jp-ModelArts-info' }, this.trans.__('No mounts'))
      );
      return;
    }
    this._list.replaceChildren(...mounts.map(m => this._row(m)));
  }

  private _row(mount: IMount): HTMLElement {
    const trans = this.trans;
    const busy = mount.status === 'MOUNTING' || mount.status === 'UNMOUNTING';
    const failed = mount.status.endsWith('_FAILED');
    const broken = mount.status === 'BROKEN';
    return h(
      'li',
      {
        class: 'jp-ModelArts-mount',
        'data-status': mount.status,
        'data-path': mount.mount_path
      },
      h(
        'div',
        { class: 'jp-ModelArts-row' },
        h('span', { class: 'jp-ModelArts-mountTarget' }, mount.mount_path),
        h(
          'span',
          {
            class: 'jp-ModelArts-badge',
            'data-status': mount.status,
            title: broken
              ? trans.__('%1 no longer shows this mount', mount.mount_path)
              : null
          },
          busy ? h('span', { class: 'jp-ModelArts-spinner' }) : null,
          mount.status
        ),
        mount.status === 'MOUNTED' || failed || broken
          ? button(
              failed ? trans.__('Forget') : trans.__('Unmount'),
              () => void this._unmount(mount),
              'plain',
              {
                class:
                  'jp-Button jp-mod-styled jp-mod-reject jp-ModelArts-unmount',
                'aria-label': trans.__('Unmount %1', mount.mount_path)
              }
            )
          : null
      ),
      h('div', { class: 'jp-ModelArts-sub' }, mount.uri),
      mount.local_path && mount.local_path !== mount.mount_path
        ? h(
            'div',
            {
              class: 'jp-ModelArts-sub jp-ModelArts-mountLocal',
              title: mount.local_path
            },
            trans.__('on this machine: %1', mount.local_path)
          )
        : null,
      (failed || broken) && mount.failure_reason
        ? h('div', { class: 'jp-ModelArts-error' }, mount.failure_reason)
        : null
    );
  }

  private _onUriInput(): void {
    if (!this._pathEdited) {
      this._path.value = suggestMountPath(this._uri.value.trim());
    }
    this._validate(true);
  }

  private _validate(show: boolean): boolean {
    const uriError = checkObsUri(this._uri.value.trim(), this.trans);
    const pathError = checkMountPath(this._path.value.trim(), this.trans);
    if (show) {
      setFieldError(
        this._uri,
        this._uriMessage,
        this._uri.value ? uriError : null
      );
      setFieldError(
        this._path,
        this._pathMessage,
        this._path.value ? pathError : null
      );
    }
    this._submit.disabled = !!(uriError || pathError);
    return !uriError && !pathError;
  }

  private async _mount(): Promise<void> {
    if (!this._validate(true)) {
      return;
    }
    this._submit.disabled = true;
    this._formMessage.textContent = '';
    try {
      await this.context.model.mount({
        uri: this._uri.value.trim(),
        mount_path: this._path.value.trim()
      });
      this._uri.value = '';
      this._path.value = '';
      this._pathEdited = false;
    } catch (error) {
      const message = ModelArtsService.errorMessage(error);
      const at = ModelArtsService.errorField(error);
      if (at === 'uri') {
        setFieldError(this._uri, this._uriMessage, message);
      } else if (at === 'mount_path') {
        setFieldError(this._path, this._pathMessage, message);
      } else {
        this._formMessage.textContent = message;
      }
    } finally {
      this._validate(false);
    }
  }

  private async _unmount(mount: IMount): Promise<void> {
    const trans = this.trans;
    const result = await showDialog({
      title: trans.__('Unmount %1?', mount.mount_path),
      body:
        mount.status === 'BROKEN'
          ? trans.__(
              'The mount is broken: %1. Unmounting forgets it and leaves what is at %2 now as it is; the data stays in %3.',
              mount.failure_reason ?? '',
              mount.mount_path,
              mount.uri
            )
          : trans.__(
              'The folder disappears from %1; the data stays in %2.',
              mount.mount_path,
              mount.uri
            ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Unmount') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await this.context.model.unmount(mount.id);
    } catch (error) {
      this._formMessage.textContent = ModelArtsService.errorMessage(error);
    }
  }

  private _list: HTMLElement;
  private _uri: HTMLInputElement;
  private _path: HTMLInputElement;
  private _uriMessage: HTMLElement;
  private _pathMessage: HTMLElement;
  private _formMessage: HTMLElement;
  private _submit: HTMLButtonElement;
  private _pathEdited = false;
}
