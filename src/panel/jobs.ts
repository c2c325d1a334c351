import { PathExt } from '@jupyterlab/coreutils';

import {
  button,
  field,
  formatDuration,
  formatTime,
  h,
  setFieldError
} from '../ui/dom';
import { isFinal } from '../api/model';
import { ModelArtsService } from '../api/service';
import { IPanelContext, Section } from './section';
import { IFlavor, IJob, IJobSpec, JOB_PHASES } from '../api/tokens';
import { checkJobName, parseParameters } from '../api/validate';

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
 * @returns The name, for example `train-0930`
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
 * Training jobs: local and cloud jobs in one list with a phase filter, and a submit form.
 */
export class JobsSection extends Section {
  /**
   * Create the section.
   *
   * @param context What the sections share
   */
  constructor(context: IPanelContext) {
    super(context, 'jobs', context.trans.__('Training jobs'));
    const trans = this.trans;
    this._filter = h(
      'select',
      {
        class: 'jp-mod-styled jp-ModelArts-phaseFilter',
        'aria-label': trans.__('Show jobs in phase'),
        onchange: () => this.update()
      },
      h('option', { value: '' }, trans.__('All phases')),
      ...JOB_PHASES.map(p => h('option', { value: p }, p))
    );
    this._table = h('table', { class: 'jp-ModelArts-jobs' });
    this.body.append(
      h(
        'div',
        { class: 'jp-ModelArts-row' },
        h('label', {}, trans.__('Phase')),
        this._filter
      ),
      h('div', { class: 'jp-ModelArts-tableWrap' }, this._table),
      this._buildForm()
    );
  }

  /**
   * Open the submit form with a script filled in.
   *
   * @param path The server path of the script
   */
  prepareSubmit(path: string): void {
    this.node.open = true;
    this._formNode.open = true;
    this._setScript(path);
    this._name.focus();
  }

  /**
   * Show the jobs that pass the phase filter.
   */
  update(): void {
    const trans = this.trans;
    const phase = this._filter.value;
    const jobs = this.context.model.jobs.filter(
      j => !phase || j.phase === phase
    );
    const head = h(
      'tr',
      {},
      ...[
        trans.__('Name'),
        trans.__('Phase'),
        trans.__('Flavor'),
        trans.__('Nodes'),
        trans.__('Started'),
        trans.__('Duration')
      ].map(t => h('th', { scope: 'col' }, t))
    );
    const rows = jobs.map(job => this._row(job));
    if (rows.length === 0) {
      rows.push(
        h(
          'tr',
          {},
          h(
            'td',
            { colspan: 6, class: 'jp-ModelArts-info' },
            phase ? trans.__('No %1 jobs', phase) : trans.__('No jobs yet')
          )
        )
      );
    }
    this._table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
    this._refreshChoices();
  }

  private _row(job: IJob): HTMLElement {
    const end = job.ended_at ?? (isFinal(job) ? null : Date.now());
    const duration =
      job.started_at && end ? formatDuration(end - job.started_at) : '';
    return h(
      'tr',
      {
        class: 'jp-ModelArts-job',
        'data-id': job.id,
        'data-phase': job.phase
      },
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'jp-ModelArts-link',
            title: this.trans.__('Open %1 (%2)', job.name, job.backend),
            onclick: () => this.context.openJob(job.id)
          },
          job.name
        )
      ),
      h(
        'td',
        {},
        h(
          'span',
          { class: 'jp-ModelArts-badge', 'data-phase': job.phase },
          job.phase
        )
      ),
      h('td', {}, job.spec.flavor ?? job.backend),
      h('td', {}, String(job.spec.nodes)),
      h('td', {}, formatTime(job.started_at)),
      h('td', {}, duration)
    );
  }

  private _buildForm(): HTMLElement {
    const trans = this.trans;
    this._script = h('input', {
      class: 'jp-mod-styled jp-ModelArts-jobScript',
      type: 'text',
      placeholder: trans.__('folder/train.py'),
      spellcheck: 'false',
      oninput: () => this._validate(true)
    });
    this._name = h('input', {
      class: 'jp-mod-styled jp-ModelArts-jobName',
      type: 'text',
      spellcheck: 'false',
      oninput: () => this._validate(true)
    });
    this._flavor = h('select', {
      class: 'jp-mod-styled jp-ModelArts-jobFlavor',
      onchange: () => this._validate(true)
    });
    this._engine = h('select', {
      class: 'jp-mod-styled jp-ModelArts-jobEngine'
    });
    this._nodes = h('input', {
      class: 'jp-mod-styled jp-ModelArts-jobNodes',
      type: 'number',
      min: 1,
      max: 16,
      value: 1,
      oninput: () => this._validate(true)
    });
    this._parameters = h('textarea', {
      class: 'jp-mod-styled jp-ModelArts-jobParameters',
      rows: 3,
      placeholder: trans.__('lr=0.01\nepochs=3'),
      spellcheck: 'false',
      oninput: () => this._validate(true)
    });
    const fields = {
      script: field(trans.__('Script'), this._script),
      name: field(trans.__('Job name'), this._name),
      flavor: field(trans.__('Flavor'), this._flavor),
      engine: field(trans.__('Engine'), this._engine),
      nodes: field(trans.__('Nodes'), this._nodes),
      parameters: field(trans.__('Parameters'), this._parameters)
    };
    this._messages = {
      script: fields.script.message,
      name: fields.name.message,
      flavor: fields.flavor.message,
      engine: fields.engine.message,
      nodes: fields.nodes.message,
      parameters: fields.parameters.message
    };
    const pick = (from: () => string | null, none: string) => () => {
      const path = from();
      if (path) {
        this._setScript(path);
      } else {
        setFieldError(this._script, this._messages.script, none);
      }
    };
    const pickers = h(
      'div',
      { class: 'jp-ModelArts-row' },
      button(
        trans.__('From file browser'),
        pick(
          this.context.scriptFromBrowser,
          trans.__('Select a script in the file browser first')
        ),
        'plain',
        {
          class:
            'jp-Button jp-mod-styled jp-mod-reject jp-ModelArts-fromBrowser'
        }
      ),
      button(
        trans.__('From open editor'),
        pick(
          this.context.scriptFromEditor,
          trans.__('Open the script in an editor first')
        ),
        'plain',
        {
          class: 'jp-Button jp-mod-styled jp-mod-reject jp-ModelArts-fromEditor'
        }
      )
    );
    this._formMessage = h('div', {
      class: 'jp-ModelArts-fieldMessage',
      'aria-live': 'polite'
    });
    this._submit = button(trans.__('Submit'), () => void 0, 'accept', {
      type: 'submit',
      class: 'jp-Button jp-mod-styled jp-mod-accept jp-ModelArts-jobSubmit'
    });
    const form = h(
      'form',
      {
        class: 'jp-ModelArts-form jp-ModelArts-jobForm',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void this._doSubmit();
        }
      },
      fields.script.row,
      pickers,
      fields.name.row,
      fields.flavor.row,
      fields.engine.row,
      fields.nodes.row,
      fields.parameters.row,
      h('div', { class: 'jp-ModelArts-row' }, this._submit),
      this._formMessage
    );
    this._formNode = h(
      'details',
      { class: 'jp-ModelArts-subsection' },
      h('summary', {}, trans.__('Submit a job')),
      form
    );
    this._validate(false);
    return this._formNode;
  }

  private _setScript(path: string): void {
    this._script.value = path;
    if (this._name.value === '' || this._name.value === this._autoName) {
      this._autoName = jobNameFor(path);
      this._name.value = this._autoName;
    }
    this._validate(true);
  }

  /**
   * Fill the flavor and engine pickers from the server, once.
   */
  private _refreshChoices(): void {
    if (this._choicesLoaded || !this.context.model.ready) {
      return;
    }
    this._choicesLoaded = true;
    const { service } = this.context.model;
    void Promise.all([service.listFlavors(), service.listEngines()])
      .then(([flavors, engines]) => {
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
        this._validate(false);
      })
      .catch(error => {
        this._choicesLoaded = false;
        this._formMessage.textContent = ModelArtsService.errorMessage(error);
      });
  }

  private _validate(show: boolean): IJobSpec | null {
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
    const flavor = this._flavors.find(f => f.id === this._flavor.value);
    const nodes = Number(this._nodes.value);
    const maxNodes = flavor?.max_nodes ?? 16;
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > maxNodes) {
      problems.nodes = trans.__('1 to %1 nodes', maxNodes);
    }
    const parsed = parseParameters(this._parameters.value, trans);
    if ('error' in parsed) {
      problems.parameters = parsed.error;
    }
    if (show) {
      for (const [key, control] of [
        ['script', this._script],
        ['name', this._name],
        ['nodes', this._nodes],
        ['parameters', this._parameters]
      ] as [string, HTMLElement][]) {
        const typed =
          key !== 'name' || (control as HTMLInputElement).value !== '';
        setFieldError(
          control,
          this._messages[key],
          typed ? (problems[key] ?? null) : null
        );
      }
    }
    const ok = Object.keys(problems).length === 0;
    this._submit.disabled = !ok;
    if (!ok || 'error' in parsed) {
      return null;
    }
    return {
      name: this._name.value.trim(),
      ...splitScript(script),
      nodes,
      flavor: this._flavor.value || null,
      engine: this._engine.value || null,
      parameters: parsed.parameters
    };
  }

  private async _doSubmit(): Promise<void> {
    const spec = this._validate(true);
    if (!spec) {
      return;
    }
    this._submit.disabled = true;
    this._formMessage.textContent = '';
    try {
      const job = await this.context.model.service.submitJob(spec);
      this.context.model.updateJob(job);
      this._name.value = '';
      this.context.openJob(job.id);
    } catch (error) {
      const message = ModelArtsService.errorMessage(error);
      const at = ModelArtsService.errorField(error) ?? '';
      const key =
        at === 'code_dir' || at === 'boot_file'
          ? 'script'
          : at.startsWith('parameters')
            ? 'parameters'
            : at;
      const control: Record<string, HTMLElement> = {
        script: this._script,
        name: this._name,
        flavor: this._flavor,
        engine: this._engine,
        nodes: this._nodes,
        parameters: this._parameters
      };
      if (control[key]) {
        setFieldError(control[key], this._messages[key], message);
      } else {
        this._formMessage.textContent = message;
      }
    } finally {
      this._submit.disabled = false;
    }
  }

  private _filter: HTMLSelectElement;
  private _table: HTMLTableElement;
  private _formNode!: HTMLDetailsElement;
  private _script!: HTMLInputElement;
  private _name!: HTMLInputElement;
  private _flavor!: HTMLSelectElement;
  private _engine!: HTMLSelectElement;
  private _nodes!: HTMLInputElement;
  private _parameters!: HTMLTextAreaElement;
  private _messages!: Record<string, HTMLElement>;
  private _formMessage!: HTMLElement;
  private _submit!: HTMLButtonElement;
  private _flavors: IFlavor[] = [];
  private _choicesLoaded = false;
  private _autoName = '';
}
