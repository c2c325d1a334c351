import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { addIcon, closeIcon } from '@jupyterlab/ui-components';

import { ModelArtsService } from '../api/service';
import { IMount } from '../api/tokens';
import { checkMountPath, checkObsUri, suggestMountPath } from '../api/validate';
import { CommandIDs } from '../commandids';
import { h, iconButton } from '../ui/dom';
import { FormBody, showForm } from './forms';
import { IPanelContext, Section } from './section';

/**
 * Draw one mount: its path and state, the OBS folder, where it really is when that differs,
 * why it failed, and unmount (forget, for a failed one).
 *
 * @param mount The mount
 * @param trans The translation bundle
 * @param unmount What unmount does
 * @returns The row
 */
export function mountRow(
  mount: IMount,
  trans: TranslationBundle,
  unmount: (mount: IMount) => void
): HTMLElement {
  const busy = mount.status === 'MOUNTING' || mount.status === 'UNMOUNTING';
  const failed = mount.status.endsWith('_FAILED');
  const broken = mount.status === 'BROKEN';
  const canUnmount = mount.status === 'MOUNTED' || failed || broken;
  const label = failed
    ? trans.__('Forget %1', mount.mount_path)
    : trans.__('Unmount %1', mount.mount_path);
  return h(
    'li',
    {
      class: 'jp-ModelArts-mount',
      'data-status': mount.status,
      'data-path': mount.mount_path
    },
    h(
      'div',
      { class: 'jp-ModelArts-itemLine' },
      h(
        'span',
        { class: 'jp-ModelArts-mountTarget', title: mount.mount_path },
        mount.mount_path
      ),
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
      iconButton(closeIcon, label, () => unmount(mount), {
        class: 'jp-ModelArts-unmount',
        disabled: !canUnmount
      })
    ),
    h('div', { class: 'jp-ModelArts-sub', title: mount.uri }, mount.uri),
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

/**
 * Storage: the OBS mounts with their states; mount behind the title bar's button, unmount
 * with confirmation.
 */
export class StorageSection extends Section {
  /**
   * Create the section.
   *
   * @param context What the sections share
   */
  constructor(context: IPanelContext) {
    super(context, 'storage', context.trans.__('Storage'), 'mounts');
    this.addButton(
      'addMount',
      addIcon,
      this.trans.__('Mount an OBS folder…'),
      () => void context.commands.execute(CommandIDs.mount)
    );
    this._list = h('ul', { class: 'jp-ModelArts-list jp-ModelArts-mounts' });
    this._message = h('div', {
      class: 'jp-ModelArts-error',
      'aria-live': 'polite'
    });
    this.body.append(this._list, this._message);
  }

  /**
   * Show the mounts.
   */
  update(): void {
    const failed = this.showError();
    const mounts = this.context.model.mounts;
    if (mounts.length === 0) {
      this._list.replaceChildren(
        failed
          ? ''
          : h(
              'li',
              { class: 'jp-ModelArts-info' },
              this.context.model.ready
                ? this.trans.__('No mounts')
                : this.trans.__('Loading…')
            )
      );
      return;
    }
    this._list.replaceChildren(
      ...mounts.map(m => mountRow(m, this.trans, m => void this._unmount(m)))
    );
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
    this._message.textContent = '';
    try {
      await this.context.model.unmount(mount.id);
    } catch (error) {
      this._message.textContent = ModelArtsService.errorMessage(
        error,
        this.trans
      );
    }
  }

  private _list: HTMLElement;
  private _message: HTMLElement;
}

/**
 * The form that mounts an OBS folder, checked as you type; the mount path follows the
 * folder's name until it is edited.
 */
export class MountForm extends FormBody {
  /**
   * Create the form.
   *
   * @param context What the panel's parts share
   */
  constructor(context: IPanelContext) {
    super(context.trans, 'jp-ModelArts-mountForm');
    const trans = this.trans;
    this._context = context;
    this._uri = h('input', {
      class: 'jp-mod-styled jp-ModelArts-mountUri',
      type: 'text',
      placeholder: trans.__('obs://bucket/path/'),
      spellcheck: 'false'
    });
    this._path = h('input', {
      class: 'jp-mod-styled jp-ModelArts-mountPath',
      type: 'text',
      placeholder: trans.__('/data/name/'),
      spellcheck: 'false'
    });
    this.node.append(
      this.addField('uri', trans.__('OBS folder'), this._uri),
      this.addField('mount_path', trans.__('Mount path'), this._path),
      this.message
    );
  }

  async send(): Promise<void> {
    await this._context.model.mount({
      uri: this._uri.value.trim(),
      mount_path: this._path.value.trim()
    });
  }

  protected problems(): Record<string, string> {
    const problems: Record<string, string> = {};
    const uri = checkObsUri(this._uri.value.trim(), this.trans);
    const path = checkMountPath(this._path.value.trim(), this.trans);
    if (uri) {
      problems.uri = uri;
    }
    if (path) {
      problems.mount_path = path;
    }
    return problems;
  }

  protected onChange(key: string): void {
    if (key === 'mount_path') {
      this._pathEdited = true;
    } else if (key === 'uri' && !this._pathEdited) {
      this._path.value = suggestMountPath(this._uri.value.trim());
    }
  }

  private _context: IPanelContext;
  private _uri: HTMLInputElement;
  private _path: HTMLInputElement;
  private _pathEdited = false;
}

/**
 * Open the mount dialog.
 *
 * @param context What the panel's parts share
 * @returns Whether a mount was started
 */
export function mountFolder(context: IPanelContext): Promise<boolean> {
  const trans = context.trans;
  return showForm(
    new MountForm(context),
    trans.__('Mount an OBS folder'),
    trans.__('Mount')
  );
}
