import { ServerConnection } from '@jupyterlab/services';

import { ModelArtsService } from '../api/service';
import {
  IDoctorReport,
  IEngine,
  IInstance,
  IMount,
  IWorkspace
} from '../api/tokens';

const BASE_URL = 'http://localhost:8888/base/';

const INSTANCE: IInstance = {
  backend: 'local',
  id: 'local-0001',
  name: 'local notebook',
  status: 'RUNNING',
  flavor: {
    id: 'local.cpu',
    name: 'This machine',
    type: 'CPU',
    cpu_count: 2,
    memory_mb: 24000,
    gpu_count: 0,
    gpu_name: null,
    max_nodes: 1
  },
  image: null,
  lease: {
    enabled: false,
    type: 'TIMING',
    duration_s: null,
    renewed_at: null,
    stop_at: null,
    remaining_s: null,
    idle_since: null,
    busy: null
  }
};

const WORKSPACE: IWorkspace = {
  id: '0',
  name: 'default',
  status: 'NORMAL',
  description: ''
};

const REPORT: IDoctorReport = {
  backend: 'local',
  workspace_id: '0',
  checked_at: 1,
  running: false,
  checks: []
};

/**
 * Build a service whose requests are answered by `answer` instead of a server.
 */
function makeService(answer: (url: string, init?: RequestInit) => Response): {
  service: ModelArtsService;
  calls: string[];
  requests: { url: string; method: string; body: unknown }[];
} {
  const calls: string[] = [];
  const requests: { url: string; method: string; body: unknown }[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url =
      typeof input === 'string'
        ? input
        : input instanceof URL
          ? input.href
          : input.url;
    calls.push(url);
    const request = input instanceof Request ? input : null;
    const text = request ? await request.text() : (init?.body as string);
    requests.push({
      url: url.replace(/\?\d+$/, '').replace(/&\d+$/, ''),
      method: request?.method ?? init?.method ?? 'GET',
      body: text ? JSON.parse(text) : undefined
    });
    return answer(url, init);
  };
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: BASE_URL,
    fetch
  });
  return { service: new ModelArtsService({ serverSettings }), calls, requests };
}

function jsonResponse(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

describe('ModelArtsService', () => {
  describe('#getInstance()', () => {
    it('should GET <base_url>/jupyter-modelarts/instance and return the instance', async () => {
      const { service, calls } = makeService(() => jsonResponse(INSTANCE, 200));

      const instance = await service.getInstance();

      expect(calls).toHaveLength(1);
      expect(calls[0].split('?')[0]).toBe(
        'http://localhost:8888/base/jupyter-modelarts/instance'
      );
      expect(instance).toEqual(INSTANCE);
    });

    it("should throw a ResponseError with the server's message", async () => {
      const { service } = makeService(() =>
        jsonResponse(
          {
            message: 'The backend is not ready',
            reason: 'backend_unavailable',
            code: 503
          },
          503
        )
      );

      const error = await service.getInstance().catch(e => e);

      expect(error).toBeInstanceOf(ServerConnection.ResponseError);
      expect(error.message).toBe('The backend is not ready');
      expect(error.response.status).toBe(503);
    });
  });

  const API = 'http://localhost:8888/base/jupyter-modelarts/';
  const MOUNT: IMount = {
    id: 'm1',
    uri: 'obs://bucket/data/',
    mount_path: '/data/d/',
    local_path: '/root/project/data/d/',
    status: 'MOUNTING',
    category: 'OBS',
    failure_reason: null,
    created_at: 1,
    updated_at: 1
  };
  const ENGINE: IEngine = {
    id: 'python3',
    name: 'Python 3 (ipykernel)',
    version: '3.11.7',
    image: null,
    interpreter: '/usr/bin/python3'
  };
  const LEASE = {
    enabled: true,
    type: 'TIMING',
    duration_s: 3600,
    renewed_at: 1,
    stop_at: 2,
    remaining_s: 3600
  };

  const cases: {
    name: string;
    call: (s: ModelArtsService) => Promise<unknown>;
    method: string;
    path: string;
    body?: unknown;
    answer: unknown;
    status?: number;
    result: unknown;
  }[] = [
    {
      name: 'getLease',
      call: s => s.getLease(),
      method: 'GET',
      path: 'lease',
      answer: LEASE,
      result: LEASE
    },
    {
      name: 'renewLease',
      call: s => s.renewLease(14400),
      method: 'PATCH',
      path: 'lease',
      body: { duration_s: 14400 },
      answer: LEASE,
      result: LEASE
    },
    {
      name: 'listMounts',
      call: s => s.listMounts(),
      method: 'GET',
      path: 'mounts',
      answer: { mounts: [MOUNT] },
      result: [MOUNT]
    },
    {
      name: 'getMount',
      call: s => s.getMount('m 1'),
      method: 'GET',
      path: 'mounts/m%201',
      answer: MOUNT,
      result: MOUNT
    },
    {
      name: 'createMount',
      call: s =>
        s.createMount({ uri: MOUNT.uri, mount_path: MOUNT.mount_path }),
      method: 'POST',
      path: 'mounts',
      body: { uri: MOUNT.uri, mount_path: MOUNT.mount_path },
      answer: MOUNT,
      status: 202,
      result: MOUNT
    },
    {
      name: 'deleteMount',
      call: s => s.deleteMount('m1'),
      method: 'DELETE',
      path: 'mounts/m1',
      answer: MOUNT,
      status: 202,
      result: MOUNT
    },
    {
      name: 'listImages',
      call: s => s.listImages(),
      method: 'GET',
      path: 'images',
      answer: { images: [] },
      result: []
    },
    {
      name: 'getImage',
      call: s => s.getImage('i1'),
      method: 'GET',
      path: 'images/i1',
      answer: { id: 'i1' },
      result: { id: 'i1' }
    },
    {
      name: 'saveImage',
      call: s => s.saveImage({ name: 'env', tag: 'v1' }),
      method: 'POST',
      path: 'images',
      body: { name: 'env', tag: 'v1' },
      answer: { id: 'i1' },
      status: 202,
      result: { id: 'i1' }
    },
    {
      name: 'listFlavors',
      call: s => s.listFlavors(),
      method: 'GET',
      path: 'flavors',
      answer: { flavors: [INSTANCE.flavor] },
      result: [INSTANCE.flavor]
    },
    {
      name: 'listEngines',
      call: s => s.listEngines(),
      method: 'GET',
      path: 'engines',
      answer: { engines: [ENGINE] },
      result: [ENGINE]
    },
    {
      name: 'listJobs',
      call: s => s.listJobs(),
      method: 'GET',
      path: 'jobs',
      answer: { jobs: [], total: 0, offset: 0, limit: 50 },
      result: { jobs: [], total: 0, offset: 0, limit: 50 }
    },
    {
      name: 'listJobs(page)',
      call: s =>
        s.listJobs({
          phase: 'Running',
          offset: 50,
          limit: 50,
          sort: 'name',
          order: 'asc'
        }),
      method: 'GET',
      path: 'jobs?phase=Running&offset=50&limit=50&sort=name&order=asc',
      answer: { jobs: [], total: 0, offset: 50, limit: 50 },
      result: { jobs: [], total: 0, offset: 50, limit: 50 }
    },
    {
      name: 'getJob',
      call: s => s.getJob('j1'),
      method: 'GET',
      path: 'jobs/j1',
      answer: { id: 'j1' },
      result: { id: 'j1' }
    },
    {
      name: 'submitJob',
      call: s =>
        s.submitJob({ name: 'j', code_dir: 'p', boot_file: 'train.py' }),
      method: 'POST',
      path: 'jobs',
      body: { name: 'j', code_dir: 'p', boot_file: 'train.py' },
      answer: { id: 'j1' },
      status: 201,
      result: { id: 'j1' }
    },
    {
      name: 'stopJob',
      call: s => s.stopJob('j1'),
      method: 'POST',
      path: 'jobs/j1/stop',
      answer: { id: 'j1' },
      status: 202,
      result: { id: 'j1' }
    },
    {
      name: 'deleteJob',
      call: s => s.deleteJob('j1'),
      method: 'DELETE',
      path: 'jobs/j1',
      answer: null,
      status: 204,
      result: undefined
    },
    {
      name: 'getJobLogs',
      call: s => s.getJobLogs('j1', 'worker-1', 17),
      method: 'GET',
      path: 'jobs/j1/logs?task=worker-1&offset=17',
      answer: { content: 'x' },
      result: { content: 'x' }
    },
    {
      name: 'getJobLogs(limit)',
      call: s => s.getJobLogs('j1', 'worker-0', 0, 10),
      method: 'GET',
      path: 'jobs/j1/logs?task=worker-0&offset=0&limit=10',
      answer: { content: '' },
      result: { content: '' }
    },
    {
      name: 'getJobMetrics',
      call: s => s.getJobMetrics('j1'),
      method: 'GET',
      path: 'jobs/j1/metrics',
      answer: { job_id: 'j1', series: [] },
      result: { job_id: 'j1', series: [] }
    },
    {
      name: 'listWorkspaces',
      call: s => s.listWorkspaces(),
      method: 'GET',
      path: 'workspaces',
      answer: { workspaces: [WORKSPACE], current: '0' },
      result: { workspaces: [WORKSPACE], current: '0' }
    },
    {
      name: 'setCurrentWorkspace',
      call: s => s.setCurrentWorkspace('ws-1'),
      method: 'PUT',
      path: 'workspaces/current',
      body: { id: 'ws-1' },
      answer: WORKSPACE,
      result: WORKSPACE
    },
    {
      name: 'getDoctor',
      call: s => s.getDoctor(),
      method: 'GET',
      path: 'doctor',
      answer: REPORT,
      result: REPORT
    },
    {
      name: 'runDoctor',
      call: s => s.runDoctor(),
      method: 'POST',
      path: 'doctor',
      answer: REPORT,
      result: REPORT
    }
  ];

  for (const c of cases) {
    it(`#${c.name} should ${c.method} ${c.path}`, async () => {
      const { service, requests } = makeService(() =>
        c.status === 204
          ? new Response(null, { status: 204 })
          : jsonResponse(c.answer, c.status ?? 200)
      );

      const result = await c.call(service);

      expect(requests).toHaveLength(1);
      expect(requests[0].method).toBe(c.method);
      expect(requests[0].url).toBe(API + c.path);
      expect(requests[0].body).toEqual(c.body);
      expect(result).toEqual(c.result);
    });
  }

  it('should keep the field at fault of an error answer', async () => {
    const { service } = makeService(() =>
      jsonResponse(
        {
          message: '/data/d/ is already mounted',
          reason: 'InvalidRequest',
          code: 'ModelArts.InvalidRequest',
          field: 'mount_path'
        },
        400
      )
    );

    const error = await service
      .createMount({ uri: 'obs://bucket/data/', mount_path: '/data/d/' })
      .catch(e => e);

    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error.message).toBe('/data/d/ is already mounted');
    expect(ModelArtsService.errorField(error)).toBe('mount_path');
    expect(ModelArtsService.errorMessage(error)).toBe(
      '/data/d/ is already mounted'
    );
  });

  it('should report a 409 on renewal without a lease', async () => {
    const { service } = makeService(() =>
      jsonResponse(
        {
          message: 'Auto-stop is off',
          reason: 'Conflict',
          code: 'ModelArts.Conflict'
        },
        409
      )
    );
    const error = await service.renewLease(3600).catch(e => e);
    expect(error.response.status).toBe(409);
    expect(ModelArtsService.errorField(error)).toBeNull();
  });

  describe('a 403', () => {
    const refuse = (body: Record<string, unknown>) =>
      makeService(() =>
        jsonResponse(
          { reason: 'PermissionDenied', code: 'ModelArts.0201', ...body },
          403
        )
      ).service;

    it('should name the IAM action the call needs', async () => {
      const error = await refuse({
        message: 'Forbidden (ModelArts.0201)',
        iam_action: 'modelarts:trainJob:create',
        agency: false
      })
        .submitJob({ name: 'j', command: 'true' })
        .catch(e => e);
      expect(error.iamAction).toBe('modelarts:trainJob:create');
      expect(error.agency).toBe(false);
      const text = ModelArtsService.errorMessage(error);
      expect(text).toContain('modelarts:trainJob:create');
      expect(text).not.toContain('agency');
    });

    it("should say when the right is the agency's, with the console's fix", async () => {
      const error = await refuse({
        message: 'Forbidden (ModelArts.0201)',
        iam_action: 'obs:object:PutObject',
        agency: true
      })
        .saveImage({ name: 'env', tag: 'v1' })
        .catch(e => e);
      const text = ModelArtsService.errorMessage(error);
      expect(text).toContain('obs:object:PutObject');
      expect(text).toContain("the ModelArts agency's, not yours");
      expect(text).toContain('全局配置');
      expect(text).toContain('添加授权');
    });

    it('should not repeat what the server says already', async () => {
      const message =
        'The ModelArts agency lacks obs:object:PutObject: add it in ModelArts → 全局配置 → 添加授权';
      const error = await refuse({
        message,
        iam_action: 'obs:object:PutObject',
        agency: true
      })
        .saveImage({ name: 'env', tag: 'v1' })
        .catch(e => e);
      expect(ModelArtsService.errorMessage(error)).toBe(message);
    });
  });
});
