import { ServerConnection } from '@jupyterlab/services';

import { ModelArtsService } from '../service';
import { IInstance } from '../tokens';

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
  lease: { enabled: false }
};

/**
 * Build a service whose requests are answered by `answer` instead of a server.
 */
function makeService(answer: (url: string, init?: RequestInit) => Response): {
  service: ModelArtsService;
  calls: string[];
} {
  const calls: string[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url =
      typeof input === 'string'
        ? input
        : input instanceof URL
          ? input.href
          : input.url;
    calls.push(url);
    return answer(url, init);
  };
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: BASE_URL,
    fetch
  });
  return { service: new ModelArtsService({ serverSettings }), calls };
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
});
