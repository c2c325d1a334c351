import { caretDownEmptyIcon } from '@jupyterlab/ui-components';

import { ModelArtsService } from '../api/service';
import { h } from '../ui/dom';
import { IPanelContext, PartWidget } from './section';

/**
 * The current workspace (工作空间), where jobs are submitted and images saved and whose jobs
 * and images the panel lists: a picker (JupyterLab's HTMLSelect markup) when the user has
 * several, its name alone otherwise. A refused pick shows under it.
 */
export class WorkspacePart extends PartWidget {
  constructor(context: IPanelContext) {
    super(context, 'workspaces');
    this.addClass('jp-ModelArts-workspace');
    const { trans } = context;
    this._select = h('select', {
      class: 'jp-ModelArts-workspaceSelect',
      'aria-label': trans.__('Workspace'),
      onchange: () => void this._pick(this._select.value)
    });
    this._picker = h(
      'div',
      { class: 'jp-HTMLSelect jp-DefaultStyle jp-ModelArts-workspacePicker' },
      this._select,
      caretDownEmptyIcon.element({
        tag: 'span',
        stylesheet: 'select',
        right: '4px',
        top: '4px'
      })
    );
    this._name = h('span', { class: 'jp-ModelArts-workspaceName' });
    this._message = h('div', {
      class:
        'jp-ModelArts-error jp-ModelArts-sub jp-ModelArts-workspaceMessage',
      'aria-live': 'polite'
    });
    this.node.append(
      h(
        'div',
        { class: 'jp-ModelArts-itemLine' },
        h('span', { class: 'jp-ModelArts-sub' }, trans.__('Workspace')),
        this._picker,
        this._name
      ),
      this._message,
      this.errorNode
    );
  }

  update(): void {
    const { model, trans } = this.context;
    const failed = this.showError();
    const { workspaces, workspace } = model;
    const many = workspaces.length > 1;
    this._picker.hidden = !many;
    this._name.hidden = many;
    this._name.textContent = workspace
      ? workspace.name
      : failed
        ? ''
        : trans.__('Loading…');
    this.node.title = workspace
      ? [
          trans.__(
            'Workspace %1 (%2), %3',
            workspace.name,
            workspace.id,
            workspace.status
          ),
          workspace.description
        ]
          .filter(Boolean)
          .join('\n')
      : '';
    if (many) {
      const options = workspaces.map(w =>
        h('option', { value: w.id, title: w.description || null }, w.name)
      );
      this._select.replaceChildren(...options);
      this._select.value = workspace?.id ?? '';
      this._select.disabled = this._busy;
    }
  }

  private async _pick(id: string): Promise<void> {
    const { model, trans } = this.context;
    this._busy = true;
    this._message.textContent = '';
    this.update();
    try {
      await model.setCurrentWorkspace(id);
    } catch (error) {
      this._message.textContent = ModelArtsService.errorMessage(error, trans);
    } finally {
      this._busy = false;
      this.update();
    }
  }

  private _select: HTMLSelectElement;
  private _picker: HTMLElement;
  private _name: HTMLElement;
  private _message: HTMLElement;
  private _busy = false;
}
