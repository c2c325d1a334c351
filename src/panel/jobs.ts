import { PathExt } from '@jupyterlab/coreutils';
import {
  addIcon,
  fileIcon,
  launchIcon,
  refreshIcon,
  textEditorIcon
} from '@jupyterlab/ui-components';

import { IEngine, IFlavor, IJobSpec } from '../api/tokens';
import { checkJobName, parseParameters } from '../api/validate';
import { CommandIDs } from '../commandids';
import { h, iconButton } from '../ui/dom';
import { FormBody, showForm } from './forms';
import { JobList } from './joblist';
import { FoldingPanel, IPanelContext } from './section';

/**
 * Split a server-root-relative script path into the job's `code_dir` and `boot_file`.
 *
 * @param path The script path, for example `project/train.py`
 * @returns The folder (`.` at the root) and the file name
 */
export function splitScript(path: string): {
  code_dir: string;
  boot_file: string;
} {
  const clean = path.replace(/^\/+/, '');
  const dir = PathExt.dirname(clean);
  return { code_dir: dir || '.', boot_file: PathExt.basename(clean) };
}

/**
 * A job name derived from a script name, unique enough to submit twice.
 *
 * @param path The script path
 * @returns The name, for example `train-093012`
 */
export function jobNameFor(path: string): string {
  const stem = PathExt.basename(path, PathExt.extname(path))
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 50);
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${stem || 'job'}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
}

/**
 * Training jobs in the sidebar: the list, with submit, the wide view and refresh in the
 * title bar.
 */
export class JobsSection extends FoldingPanel {
  /**
   * Create the section.
   *
   * @param context What the sections share
   */
  constructor(context: IPanelContext) {
    const { trans, commands } = context;
    super('jobs', trans.__('Training jobs'));
    this.addButton(
      'submitJob',
      addIcon,
      trans.__('Submit a training job…'),
      () => void commands.execute(CommandIDs.submitScript)
    );
    this.addButton(
      'openJobs',
      launchIcon,
      trans.__('Open the jobs in the main area'),
      () => void commands.execute(CommandIDs.openJobs)
    );
    this.addButton(
      'refresh',
      refreshIcon,
      trans.__('Refresh'),
      () => void context.model.refresh().catch(() => undefined)
    );
    this.list = new JobList({ context });
    this.addWidget(this.list);
  }

  /**
   * The list of jobs.
   */
  readonly list: JobList;
}

/**
 * The form that submits a script as a training job.
 */
export class SubmitForm extends FormBody {
  /**
   * Create the form.
   *
   * @param context What the panel's parts share
   * @param script The script to fill in, if any
   */
  constructor(context: IPanelContext, script: string | null) {
    super(context.trans, 'jp-ModelArts-jobForm');
    const trans = this.trans;
    this._context = context;
    this._script = h('input', {
      class: 'jp-mod-styled jp-ModelArts-jobScript',
      type: 'text',
      placeholder: trans.__('folder/train.py'),
      spellcheck: 'false'
    });
    this._name = h('input', {
      class: 'jp-mod-styled jp-ModelArts-jobName',
      type: 'text',
      spellcheck: 'false'
    });
    this._flavor = h('select', {
      class: 'jp-mod-styled jp-ModelArts-jobFlavor'
    });
    this._engine = h('select', {
      class: 'jp-mod-styled jp-ModelArts-jobEngine'
    });
    this._nodes = h('input', {
      class: 'jp-mod-styled jp-ModelArts-jobNodes',
      type: 'number',
      min: 1,
      max: 16,
      value: 1
    });
    this._parameters = h('textarea', {
      class: 'jp-mod-styled jp-ModelArts-jobParameters',
      rows: 3,
      placeholder: trans.__('lr=0.01\nepochs=3'),
      spellcheck: 'false'
    });
    const pick = (from: () => string | null, none: string) => () => {
      const path = from();
      if (path) {
        this._setScript(path);
      } else {
        this.message.textContent = none;
      }
    };
    const scriptRow = this.addField('script', trans.__('Script'), this._script);
    scriptRow.insertBefore(
      h(
        'div',
        { class: 'jp-ModelArts-inputWithButtons' },
        this._script,
        iconButton(
          fileIcon,
          trans.__('The file selected in the file browser'),
          pick(
            context.scriptFromBrowser,
            trans.__('Select a script in the file browser first')
          ),
          { class: 'jp-ModelArts-fromBrowser' }
        ),
        iconButton(
          textEditorIcon,
          trans.__('The file open in the current editor'),
          pick(
            context.scriptFromEditor,
            trans.__('Open the script in an editor first')
          ),
          { class: 'jp-ModelArts-fromEditor' }
        )
      ),
      scriptRow.lastChild
    );
    this.node.append(
      scriptRow,
      this.addField('name', trans.__('Job name'), this._name),
      this.addField('flavor', trans.__('Flavor'), this._flavor),
      this.addField('engine', trans.__('Engine'), this._engine),
      this.addField('nodes', trans.__('Nodes'), this._nodes),
      this.addField('parameters', trans.__('Parameters'), this._parameters),
      this.message
    );
    if (script) {
      this._setScript(script);
    }
    void this._loadChoices();
  }

  async send(): Promise<void> {
    const spec = this._spec();
    const { model } = this._context;
    const job = await model.service.submitJob(spec);
    model.updateJob(job);
    this._context.openJob(job.id);
  }

  protected problems(): Record<string, string> {
    const trans = this.trans;
    const problems: Record<string, string> = {};
    const script = this._script.value.trim();
    if (!script) {
      problems.script = trans.__('Choose the script to run');
    } else if (script.endsWith('/')) {
      problems.script = trans.__('Choose a file, not a folder');
    }
    const nameError = checkJobName(this._name.value.trim(), trans);
    if (nameError) {
      problems.name = nameError;
    }
    if (!this._flavors) {
      problems.flavor = trans.__('Loading the flavors…');
    }
    const flavor = this._flavors?.find(f => f.id === this._flavor.value);
    const nodes = Number(this._nodes.value);
    const maxNodes = flavor?.max_nodes ?? 16;
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > maxNodes) {
      problems.nodes = trans.__('1 to %1 nodes', maxNodes);
    }
    const parsed = parseParameters(this._parameters.value, trans);
    if ('error' in parsed) {
      problems.parameters = parsed.error;
    }
    return problems;
  }

  protected fieldFor(name: string): string | null {
    if (name === 'code_dir' || name === 'boot_file') {
      return 'script';
    }
    if (name.startsWith('parameters')) {
      return 'parameters';
    }
    return super.fieldFor(name);
  }

  protected onChange(key: string): void {
    if (key === 'name') {
      this._autoName = '';
    }
  }

  private _spec(): IJobSpec {
    const parsed = parseParameters(this._parameters.value, this.trans);
    return {
      name: this._name.value.trim(),
      ...splitScript(this._script.value.trim()),
      nodes: Number(this._nodes.value),
      flavor: this._flavor.value || null,
      engine: this._engine.value || null,
      parameters: 'parameters' in parsed ? parsed.parameters : {}
    };
  }

  private _setScript(path: string): void {
    this._script.value = path;
    if (this._name.value === '' || this._name.value === this._autoName) {
      this._autoName = jobNameFor(path);
      this._name.value = this._autoName;
    }
    this._script.dispatchEvent(new Event('input'));
  }

  private async _loadChoices(): Promise<void> {
    const { service } = this._context.model;
    let flavors: IFlavor[];
    let engines: IEngine[];
    try {
      [flavors, engines] = await Promise.all([
        service.listFlavors(),
        service.listEngines()
      ]);
    } catch (error) {
      this.showFailure(error);
      return;
    }
    this._flavors = flavors;
    this._flavor.replaceChildren(
      ...flavors.map(f => h('option', { value: f.id }, f.name))
    );
    this._engine.replaceChildren(
      ...engines.map(e =>
        h(
          'option',
          { value: e.id, title: e.interpreter },
          `${e.name} ${e.version}`
        )
      )
    );
    this.check();
  }

  private _context: IPanelContext;
  private _script: HTMLInputElement;
  private _name: HTMLInputElement;
  private _flavor: HTMLSelectElement;
  private _engine: HTMLSelectElement;
  private _nodes: HTMLInputElement;
  private _parameters: HTMLTextAreaElement;
  private _flavors: IFlavor[] | null = null;
  private _autoName = '';
}

/**
 * Open the submit dialog, with a script filled in if given.
 *
 * @param context What the panel's parts share
 * @param script The server path of the script, if any
 * @returns Whether a job was submitted
 */
export function submitJob(
  context: IPanelContext,
  script: string | null
): Promise<boolean> {
  const trans = context.trans;
  return showForm(
    new SubmitForm(context, script),
    trans.__('Submit a training job'),
    trans.__('Submit')
  );
}
