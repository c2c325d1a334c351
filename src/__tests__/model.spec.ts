import { Event, ServerConnection } from '@jupyterlab/services';
import { Stream } from '@lumino/signaling';

import { EventSchemas, jobComparator, ModelArtsModel } from '../api/model';
import { ModelArtsService } from '../api/service';
import {
  ICheck,
  IDoctorReport,
  IImage,
  IJobSummary,
  ILease,
  IMount,
  ITask,
  IWorkspace,
  JobSortKey
} from '../api/tokens';

const BASE_URL = 'http://localhost:8888/';
const API = `${BASE_URL}jupyter-modelarts/`;

function job(
  id: string,
  created: number,
  phase = 'Completed',
  workspace = '0'
): IJobSummary {
  return {
    id,
    name: `job-${id}`,
    backend: 'local',
    phase: phase as IJobSummary['phase'],
    flavor: 'local.cpu',
    nodes: 1,
    exit_code: null,
    message: '',
    created_at: created,
    started_at: created,
    ended_at: phase === 'Running' ? null : created + 1000,
    workspace_id: workspace
  };
}

function lease(remaining: number): ILease {
  return {
    enabled: true,
    type: 'TIMING',
    duration_s: 7200,
    renewed_at: Date.now(),
    stop_at: Date.now() + remaining * 1000,
    remaining_s: remaining,
    idle_since: null,
    busy: null
  };
}

function mount(id: string, status: IMount['status']): IMount {
  return {
    id,
    uri: 'obs://bucket/data/',
    mount_path: `/data/${id}/`,
    local_path: `/data/${id}/`,
    category: 'OBS',
    status,
    failure_reason: status.endsWith('FAILED') ? 'no such bucket' : null,
    created_at: 1,
    updated_at: Date.now()
  };
}

function image(id: string, status: IImage['status'], workspace = '0'): IImage {
  return {
    id,
    name: 'env',
    tag: 'v1',
    namespace: 'me',
    status,
    description: '',
    status_message: '',
    bytes_done: 0,
    bytes_total: 0,
    size_bytes: null,
    location: null,
    workspace_id: workspace,
    created_at: Date.now(),
    updated_at: Date.now()
  };
}

function workspace(id: string): IWorkspace {
  return { id, name: `ws-${id}`, status: 'NORMAL', description: '' };
}

function check(id: string, status: ICheck['status']): ICheck {
  return {
    id,
    area: 'local',
    title: `check ${id}`,
    status,
    detail: status === 'pass' ? 'fine' : 'broken',
    fix: status === 'fail' ? 'mend it' : '',
    iam_action: null,
    agency: false
  };
}

function report(
  checks: ICheck[],
  checkedAt: number | null,
  running = false
): IDoctorReport {
  return {
    backend: 'local',
    workspace_id: '0',
    checked_at: checkedAt,
    running,
    checks
  };
}

/**
 * The REST API of a server, in memory: it answers what its fields hold and records the paths
 * asked for.
 */
class FakeServer {
  calls: string[] = [];
  status = new Map<string, number>();
  lease: ILease = lease(3600);
  mounts: IMount[] = [];
  images: IImage[] = [];
  jobs: IJobSummary[] = [];
  workspaces: IWorkspace[] = [workspace('0'), workspace('1')];
  current = '0';
  report: IDoctorReport = report([check('local:disk', 'pass')], 1);
  /** Answers held back until `release` (to interleave events with a fetch). */
  held: (() => void)[] = [];
  hold = false;

  settings(): ServerConnection.ISettings {
    return ServerConnection.makeSettings({
      baseUrl: BASE_URL,
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const request = input instanceof Request ? input : null;
        const url = new URL(request ? request.url : `${input}`);
        const method = request?.method ?? init?.method ?? 'GET';
        const text = request ? await request.text() : (init?.body as string);
        const path = url.href.slice(API.length).split('?')[0];
        // Without the cache-busting timestamp ServerConnection appends.
        const call = url.href.slice(API.length).replace(/[?&]\d+$/, '');
        this.calls.push(method === 'GET' ? call : `${method} ${call}`);
        // Snapshot now: the answer reflects the state at the time of the request.
        const response = this._answer(
          path,
          url.searchParams,
          text ? JSON.parse(text) : null
        );
        if (this.hold) {
          await new Promise<void>(resolve => this.held.push(resolve));
        }
        return response;
      }
    });
  }

  release(newestFirst = false): void {
    this.hold = false;
    const held = this.held.splice(0);
    (newestFirst ? held.reverse() : held).forEach(resolve => resolve());
  }

  private _answer(
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown> | null
  ): Response {
    const failed = this.status.get(path);
    if (failed) {
      return Response.json(
        { message: `${path} refused`, reason: 'Forbidden' },
        { status: failed }
      );
    }
    switch (path) {
      case 'instance':
        return Response.json({ backend: 'local', id: 'i', name: 'i' });
      case 'lease':
        return Response.json(this.lease);
      case 'mounts':
        return Response.json({ mounts: this.mounts });
      case 'images':
        return Response.json({
          images: this.images.filter(i => i.workspace_id === this.current)
        });
      case 'workspaces':
        return Response.json({
          workspaces: this.workspaces,
          current: this.current
        });
      case 'workspaces/current': {
        const found = this.workspaces.find(w => w.id === body?.id);
        if (!found) {
          return Response.json(
            { message: 'no such workspace', reason: 'NotFound', field: 'id' },
            { status: 404 }
          );
        }
        this.current = found.id;
        return Response.json(found);
      }
      case 'doctor':
        return Response.json(this.report);
      case 'jobs': {
        const sort = {
          key: (query.get('sort') ?? 'created') as JobSortKey,
          order: (query.get('order') ?? 'desc') as 'asc' | 'desc'
        };
        const phase = query.get('phase');
        const all = this.jobs
          .filter(j => j.workspace_id === this.current)
          .filter(j => !phase || j.phase === phase)
          .sort(jobComparator(sort));
        const offset = Number(query.get('offset') ?? 0);
        const limit = Number(query.get('limit') ?? 50);
        return Response.json({
          jobs: all.slice(offset, offset + limit),
          total: all.length,
          offset,
          limit
        });
      }
    }
    const one = /^jobs\/([^/]+)$/.exec(path);
    if (one) {
      const found = this.jobs.find(j => j.id === one[1])!;
      return Response.json({
        ...found,
        spec: { flavor: 'local.cpu', nodes: 1 },
        tasks: [task(found.phase)]
      });
    }
    return Response.json({ message: 'no route' }, { status: 404 });
  }
}

function task(phase: string): ITask {
  return {
    name: 'worker-0',
    phase: phase as ITask['phase'],
    exit_code: null,
    started_at: 1,
    ended_at: null
  };
}

/**
 * The browser end of the server's event bus.
 */
class FakeEvents implements Event.IManager {
  readonly serverSettings = ServerConnection.makeSettings();
  readonly stream: Event.Stream = new Stream(this);
  isDisposed = false;
  dispose(): void {
    this.isDisposed = true;
  }
  async emit(): Promise<void> {
    // The model never posts events.
  }
  push(schema: string, data: Record<string, unknown>): void {
    (this.stream as Stream<this, Event.Emission>).emit({
      schema_id: schema,
      ...data
    } as Event.Emission);
  }
}

async function settle(ms = 0): Promise<void> {
  await jest.advanceTimersByTimeAsync(ms);
}

describe('ModelArtsModel', () => {
  let server: FakeServer;
  let events: FakeEvents;
  let model: ModelArtsModel;

  const start = async (options: Partial<ModelArtsModel.IOptions> = {}) => {
    model = new ModelArtsModel({
      service: new ModelArtsService({ serverSettings: server.settings() }),
      events,
      pollInterval: 10,
      ...options
    });
    await settle();
  };

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000_000_000 });
    server = new FakeServer();
    events = new FakeEvents();
  });

  afterEach(() => {
    model.dispose();
    jest.useRealTimers();
  });

  it('should load every part once, then apply pushed events without requests', async () => {
    server.jobs = [job('a', 1), job('b', 2)];
    await start();
    expect(model.ready).toBe(true);
    expect(model.live).toBe(true);
    expect(model.jobs.map(j => j.id)).toEqual(['b', 'a']);
    expect(model.countdown.remaining()).toBe(3600 * 1000);
    const loaded = server.calls.length;
    expect(loaded).toBe(6);

    const changed: string[] = [];
    model.jobChanged.connect((_, j) => changed.push(`${j.id}:${j.phase}`));
    const grew: number[] = [];
    model.logGrew.connect((_, g) => grew.push(g.size));
    const failed: string[] = [];
    model.mountFailed.connect((_, m) => failed.push(m.id));
    const saved: string[] = [];
    model.imageEnded.connect((_, i) => saved.push(i.status));

    events.push(EventSchemas.lease, {
      lease: lease(7200)
    });
    expect(model.countdown.remaining()).toBe(7200 * 1000);
    events.push(EventSchemas.mount, { mount: mount('m1', 'MOUNTING') });
    events.push(EventSchemas.mount, { mount: mount('m1', 'MOUNT_FAILED') });
    expect(model.mounts.map(m => m.status)).toEqual(['MOUNT_FAILED']);
    expect(failed).toEqual(['m1']);
    events.push(EventSchemas.mount, { mount: mount('m1', 'UNMOUNTED') });
    expect(model.mounts).toEqual([]);
    events.push(EventSchemas.image, { image: image('i1', 'CREATING') });
    events.push(EventSchemas.image, { image: image('i1', 'ACTIVE') });
    expect(saved).toEqual(['ACTIVE']);
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('c', 3, 'Running'),
      tasks: [task('Running')]
    });
    expect(model.jobs.map(j => j.id)).toEqual(['c', 'b', 'a']);
    expect(model.jobsTotal).toBe(3);
    expect(model.jobTasks('c')?.[0].phase).toBe('Running');
    events.push(EventSchemas.log, { job_id: 'c', task: 'worker-0', size: 42 });
    expect(grew).toEqual([42]);
    events.push(EventSchemas.job, { action: 'deleted', job: job('a', 1) });
    expect(model.jobs.map(j => j.id)).toEqual(['c', 'b']);
    expect(model.jobsTotal).toBe(2);
    expect(changed).toEqual(['c:Running', 'a:Completed']);

    // Heartbeats keep the stream live: an idle minute costs no request.
    for (let i = 0; i < 4; i++) {
      await settle(30000);
      events.push(EventSchemas.heartbeat, { at: Date.now() });
    }
    expect(model.live).toBe(true);
    expect(server.calls.length).toBe(loaded);
  });

  it('should poll while the stream is silent, then refresh once when it is back', async () => {
    await start();
    const loaded = server.calls.length;
    await settle(60000);
    expect(model.live).toBe(true);
    expect(server.calls.length).toBe(loaded);

    await settle(16000); // 76 s without a message
    expect(model.live).toBe(false);
    const down = server.calls.filter(c => c.startsWith('lease')).length;
    await settle(30000);
    const polled = server.calls.filter(c => c.startsWith('lease')).length;
    expect(polled - down).toBeGreaterThanOrEqual(3);

    server.lease = lease(600);
    events.push(EventSchemas.heartbeat, { at: Date.now() });
    expect(model.live).toBe(true);
    await settle();
    expect(model.countdown.remaining()).toBe(600 * 1000);
    const back = server.calls.length;
    for (let i = 0; i < 2; i++) {
      await settle(30000);
      events.push(EventSchemas.heartbeat, { at: Date.now() });
    }
    await settle(10000);
    expect(server.calls.length).toBe(back);
  });

  it('should refresh once after a missed heartbeat, without polling', async () => {
    await start();
    const loaded = server.calls.length;
    await settle(50000); // a heartbeat went missing: the socket reconnected
    expect(model.live).toBe(true);
    expect(server.calls.length).toBe(loaded);
    events.push(EventSchemas.heartbeat, { at: Date.now() });
    await settle();
    // A workspace event may have been missed too.
    expect(server.calls.length).toBe(loaded + 5);
    expect(server.calls).toContain('workspaces');
  });

  it('should poll from the start without an event bus', async () => {
    await start({ events: null });
    expect(model.live).toBe(false);
    expect(model.ready).toBe(true);
    const first = server.calls.length;
    await settle(10000);
    expect(server.calls.length).toBeGreaterThan(first);
  });

  it('should refresh once when the tab comes back to the front', async () => {
    await start();
    const loaded = server.calls.length;
    document.dispatchEvent(new window.Event('visibilitychange'));
    await settle();
    // The instance does not change, the workspace changes by events: not asked again.
    expect(server.calls.length).toBe(loaded + 4);
  });

  it('should degrade only the part whose endpoint fails', async () => {
    server.status.set('mounts', 403);
    server.jobs = [job('a', 1)];
    await start();
    expect(model.error('mounts')).toBe('mounts refused');
    expect(model.error('lease')).toBeNull();
    expect(model.error('jobs')).toBeNull();
    expect(model.jobs.length).toBe(1);
    expect(model.countdown.enabled).toBe(true);

    server.status.delete('mounts');
    server.mounts = [mount('m1', 'MOUNTED')];
    await model.refresh();
    expect(model.error('mounts')).toBeNull();
    expect(model.mounts.length).toBe(1);
  });

  it('should page and sort the jobs', async () => {
    server.jobs = Array.from({ length: 120 }, (_, i) =>
      job(String(i).padStart(3, '0'), i)
    );
    await start();
    expect(model.jobs.length).toBe(50);
    expect(model.jobsTotal).toBe(120);
    expect(model.jobs[0].id).toBe('119');
    await model.loadMoreJobs();
    await model.loadMoreJobs();
    expect(model.jobs.length).toBe(120);
    expect(model.jobs[119].id).toBe('000');
    const before = server.calls.length;
    await model.loadMoreJobs();
    expect(server.calls.length).toBe(before);

    model.jobsSort = { key: 'name', order: 'asc' };
    await settle();
    expect(server.calls[server.calls.length - 1]).toBe(
      'jobs?offset=0&limit=120&sort=name&order=asc'
    );
    expect(model.jobs[0].id).toBe('000');

    model.jobsPhase = 'Running';
    await settle();
    expect(model.jobs).toEqual([]);
    expect(model.jobsTotal).toBe(0);
  });

  it('should put job events in the loaded pages where the order says', async () => {
    server.jobs = Array.from({ length: 60 }, (_, i) =>
      job(`j${String(i).padStart(2, '0')}`, i * 10)
    );
    await start();
    model.jobsSort = { key: 'name', order: 'asc' };
    await settle();
    expect(model.jobs.length).toBe(50);

    // After the last loaded one, with more unloaded: counted, not shown.
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('zz', 1000, 'Running'),
      tasks: []
    });
    expect(model.jobs.length).toBe(50);
    expect(model.jobsTotal).toBe(61);
    // Inside the loaded range: shown in its place.
    events.push(EventSchemas.job, {
      action: 'changed',
      job: { ...job('j05b', 1001, 'Running'), name: 'job-j05b' },
      tasks: []
    });
    expect(model.jobs[6].id).toBe('j05b');
    expect(model.jobsTotal).toBe(62);
    // Its phase changes: updated in place, counted once.
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('j05b', 1001, 'Completed'),
      tasks: []
    });
    expect(model.jobs[6].phase).toBe('Completed');
    expect(model.jobsTotal).toBe(62);
    expect(model.jobSummary('zz')?.phase).toBe('Running');
  });

  it('should apply again the events that arrive while an older answer is in flight', async () => {
    server.jobs = [job('a', 1, 'Running')];
    await start();
    const ended: string[] = [];
    model.jobEnded.connect((_, j) => ended.push(j.id));

    server.hold = true;
    const refreshed = model.refresh();
    await settle();
    // The server's answer says Running; the event that follows says Completed.
    server.jobs = [job('a', 1, 'Completed')];
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('a', 1, 'Completed'),
      tasks: []
    });
    server.release();
    await refreshed;
    expect(model.jobSummary('a')?.phase).toBe('Completed');
    expect(model.jobs[0].phase).toBe('Completed');
    expect(ended).toEqual(['a']);
  });

  it('should announce a job submitted after the start that ended unseen', async () => {
    await start();
    const ended: string[] = [];
    model.jobEnded.connect((_, j) => ended.push(j.id));
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('new', Date.now(), 'Completed'),
      tasks: []
    });
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('old', 5, 'Failed'),
      tasks: []
    });
    expect(ended).toEqual(['new']);
  });

  it('should not let a whole job read before a pushed end move it back', async () => {
    server.jobs = [job('a', 1, 'Terminating')];
    await start();
    server.hold = true;
    const whole = model.getJob('a');
    await settle();
    // The answer was read while Terminating; the event that follows says Terminated.
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('a', 1, 'Terminated'),
      tasks: [task('Terminated')]
    });
    server.release();
    await whole;
    expect(model.jobSummary('a')?.phase).toBe('Terminated');
    expect(model.jobs[0].phase).toBe('Terminated');
    expect(model.jobTasks('a')?.[0].phase).toBe('Terminated');
  });

  it('should not let a stop answer that arrives after the pushed end move it back', async () => {
    server.jobs = [job('a', 1, 'Running')];
    await start();
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('a', 1, 'Terminated'),
      tasks: [task('Terminated')]
    });
    await settle();
    model.updateJob(job('a', 1, 'Terminating'));
    expect(model.jobSummary('a')?.phase).toBe('Terminated');
    expect(model.jobs[0].phase).toBe('Terminated');
  });

  it('should fetch a whole job and keep its tasks', async () => {
    server.jobs = [job('a', 1, 'Running')];
    await start();
    const whole = await model.getJob('a');
    expect(whole.tasks.length).toBe(1);
    expect(model.jobTasks('a')?.[0].name).toBe('worker-0');
  });

  it('should fetch the report of the checks when asked, then apply pushed ones', async () => {
    await start();
    // Not fetched until the panel first opens.
    expect(server.calls).not.toContain('doctor');
    expect(model.doctor).toBeNull();
    await model.loadDoctor();
    expect(model.doctor?.checks.map(c => c.id)).toEqual(['local:disk']);
    expect(model.failingChecks).toEqual([]);

    const parts: string[] = [];
    model.partChanged.connect((_, part) => parts.push(part));
    // Another tab (or %ma_doctor) runs them: started, then ended with a failure.
    events.push(EventSchemas.doctor, {
      report: report([check('local:disk', 'pass')], 1, true)
    });
    expect(model.doctorRunning).toBe(true);
    events.push(EventSchemas.doctor, {
      report: report(
        [check('local:disk', 'fail'), check('local:objects', 'skipped')],
        5000
      )
    });
    expect(model.doctorRunning).toBe(false);
    expect(model.failingChecks.map(c => c.id)).toEqual(['local:disk']);
    expect(parts).toEqual(['doctor', 'doctor']);

    // A refresh asks again; an answer older than what was pushed is not applied.
    server.report = report([check('local:disk', 'pass')], 10);
    await model.refresh();
    await settle();
    expect(model.failingChecks.map(c => c.id)).toEqual(['local:disk']);
    server.report = report([check('local:disk', 'pass')], 9000);
    await model.refresh();
    await settle();
    expect(model.failingChecks).toEqual([]);
  });

  it('should show the checks running while asked to run them again', async () => {
    await start();
    await model.loadDoctor();
    server.report = report([check('local:disk', 'fail')], 2000);
    server.hold = true;
    const run = model.runDoctor();
    await settle();
    expect(model.doctorRunning).toBe(true);
    expect(server.calls[server.calls.length - 1]).toBe('POST doctor');
    server.release();
    await run;
    expect(model.doctorRunning).toBe(false);
    expect(model.failingChecks.map(c => c.fix)).toEqual(['mend it']);
  });

  it('should degrade only the checks when /doctor fails', async () => {
    server.status.set('doctor', 500);
    server.jobs = [job('a', 1)];
    await start();
    await model.loadDoctor();
    expect(model.error('doctor')).toBe('doctor refused');
    expect(model.doctor).toBeNull();
    expect(model.failingChecks).toEqual([]);
    expect(model.error('jobs')).toBeNull();
    expect(model.jobs.length).toBe(1);
  });

  it('should reload the jobs and images when the current workspace changes', async () => {
    server.jobs = [job('a', 1), job('b', 2, 'Completed', '1')];
    server.images = [image('i0', 'ACTIVE'), image('i1', 'ACTIVE', '1')];
    await start();
    expect(model.workspace?.id).toBe('0');
    expect(model.workspaces.map(w => w.id)).toEqual(['0', '1']);
    expect(model.jobs.map(j => j.id)).toEqual(['a']);
    expect(model.images.map(i => i.id)).toEqual(['i0']);

    // Another tab picks workspace 1: the event says so, and both lists follow.
    server.current = '1';
    events.push(EventSchemas.workspace, { workspace: workspace('1') });
    expect(model.workspace?.id).toBe('1');
    await settle();
    expect(model.jobs.map(j => j.id)).toEqual(['b']);
    expect(model.images.map(i => i.id)).toEqual(['i1']);

    // This tab picks it back: PUT, then the lists again (the echoing event changes nothing).
    const before = server.calls.length;
    await model.setCurrentWorkspace('0');
    expect(server.calls[before]).toBe('PUT workspaces/current');
    events.push(EventSchemas.workspace, { workspace: workspace('0') });
    await settle();
    expect(model.workspace?.id).toBe('0');
    expect(model.jobs.map(j => j.id)).toEqual(['a']);
    expect(model.images.map(i => i.id)).toEqual(['i0']);
    expect(server.calls.slice(before).filter(c => c === 'images')).toHaveLength(
      1
    );

    // A workspace that does not exist: refused, nothing changes.
    const error = await model.setCurrentWorkspace('9').catch(e => e);
    expect(ModelArtsService.errorField(error)).toBe('id');
    expect(model.workspace?.id).toBe('0');
  });

  it('should not apply the lists of the workspace left while they were on their way', async () => {
    server.jobs = [job('a', 1), job('b', 2, 'Completed', '1')];
    server.images = [image('i0', 'ACTIVE'), image('i1', 'ACTIVE', '1')];
    await start();
    server.hold = true;
    const refreshed = model.refresh();
    await settle();
    server.current = '1';
    events.push(EventSchemas.workspace, { workspace: workspace('1') });
    await settle();
    // The answers for workspace 1 arrive first, the older ones for 0 after them.
    server.release(true);
    await refreshed;
    await settle();
    expect(model.jobs.map(j => j.id)).toEqual(['b']);
    expect(model.images.map(i => i.id)).toEqual(['i1']);
  });

  it('should not list the jobs and images of another workspace pushed by events', async () => {
    server.jobs = [job('a', 1)];
    await start();
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('other', 5, 'Running', '1'),
      tasks: []
    });
    expect(model.jobs.map(j => j.id)).toEqual(['a']);
    expect(model.jobsTotal).toBe(1);
    // Still known, for a job view opened on it.
    expect(model.jobSummary('other')?.workspace_id).toBe('1');
    events.push(EventSchemas.job, {
      action: 'changed',
      job: job('mine', 6, 'Running', '0'),
      tasks: []
    });
    expect(model.jobs.map(j => j.id)).toEqual(['mine', 'a']);
    events.push(EventSchemas.image, { image: image('i9', 'CREATING', '1') });
    expect(model.images).toEqual([]);
  });
});
