import { ServerConnection } from '@jupyterlab/services';
import {
  createDeployment,
  deleteDeployment,
  getModel,
  listModels,
  setAlias
} from '../api';
import { MLOpsRequestError, requestAPI } from '../request';

/**
 * These tests replace `ServerConnection.makeRequest` (the HTTP call) with a
 * recorder: the REST handlers themselves are tested on the Python side.
 */
describe('requestAPI and the API client', () => {
  let makeRequest: jest.SpyInstance;
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/lab-base/'
  });

  function answer(status: number, body?: unknown, statusText = '') {
    makeRequest.mockResolvedValueOnce(
      new Response(
        body === undefined
          ? null
          : typeof body === 'string'
            ? body
            : JSON.stringify(body),
        { status, statusText }
      )
    );
  }

  function lastCall(): { url: string; init: RequestInit } {
    const [url, init] =
      makeRequest.mock.calls[makeRequest.mock.calls.length - 1];
    return { url, init };
  }

  beforeEach(() => {
    makeRequest = jest.spyOn(ServerConnection, 'makeRequest');
  });

  afterEach(() => {
    makeRequest.mockRestore();
  });

  it('calls /mlops/api/<endpoint> under the base URL and decodes JSON', async () => {
    answer(200, { version: '0.1.0' });
    const data = await requestAPI<{ version: string }>('version', {}, settings);
    expect(data).toEqual({ version: '0.1.0' });
    expect(lastCall().url).toBe(
      'http://localhost:8888/lab-base/mlops/api/version'
    );
  });

  it("throws MLOpsRequestError with the status and the server's message", async () => {
    answer(409, {
      message: 'A deployment named churn already exists.',
      reason: null
    });
    const error = await requestAPI('deployments', { method: 'POST' }, settings)
      .then(() => null)
      .catch((e: MLOpsRequestError) => e);
    expect(error).toBeInstanceOf(MLOpsRequestError);
    expect(error?.status).toBe(409);
    expect(error?.message).toBe('A deployment named churn already exists.');
  });

  it('falls back to the status line when the body has no message', async () => {
    answer(502, '<html>Bad gateway</html>', 'Bad Gateway');
    await expect(requestAPI('models', {}, settings)).rejects.toMatchObject({
      status: 502,
      message: '502 Bad Gateway'
    });
  });

  it('reports a network failure as status 0', async () => {
    makeRequest.mockRejectedValueOnce(new TypeError('Failed to fetch'));
    await expect(requestAPI('models', {}, settings)).rejects.toMatchObject({
      status: 0,
      isNetworkError: true
    });
  });

  it('returns undefined for 204 No Content', async () => {
    answer(204);
    await expect(deleteDeployment('churn')).resolves.toBeUndefined();
    expect(lastCall().url).toMatch(/\/mlops\/api\/deployments\/churn$/);
    expect(lastCall().init.method).toBe('DELETE');
  });

  it('passes list options as query parameters', async () => {
    answer(200, { items: [], next_page_token: null });
    await listModels({ filter: 'churn', maxResults: 50, pageToken: 'abc' });
    const url = new URL(lastCall().url);
    expect(url.pathname).toMatch(/\/mlops\/api\/models$/);
    expect(url.searchParams.get('filter')).toBe('churn');
    expect(url.searchParams.get('max_results')).toBe('50');
    expect(url.searchParams.get('page_token')).toBe('abc');
  });

  it('encodes names in paths', async () => {
    answer(200, { name: 'a b', versions: [] });
    await getModel('a b');
    expect(lastCall().url).toMatch(/\/mlops\/api\/models\/a%20b$/);
  });

  it('sends JSON bodies', async () => {
    answer(202, { name: 'churn', state: 'pending' });
    await createDeployment({
      model: 'churn/3',
      name: 'churn',
      target: 'local'
    });
    const { init } = lastCall();
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({
      model: 'churn/3',
      name: 'churn',
      target: 'local'
    });

    answer(200, { name: 'churn', version: '3', aliases: ['champion'] });
    await setAlias('churn', 'champion', '3');
    expect(lastCall().url).toMatch(/\/models\/churn\/aliases\/champion$/);
    expect(lastCall().init.method).toBe('PUT');
    expect(JSON.parse(lastCall().init.body as string)).toEqual({
      version: '3'
    });
  });
});
