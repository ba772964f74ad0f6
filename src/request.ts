import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * The REST namespace of the jupyter_mlops server extension.
 */
export const API_NAMESPACE = 'mlops/api';

/**
 * A failed call to the jupyter_mlops REST API.
 *
 * `status` is the HTTP status (0 when the server could not be reached) and
 * `message` the server's own `{"message": ...}` when it sent one, so callers
 * can show it to the user as is.
 */
export class MLOpsRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown = null
  ) {
    super(message);
    this.name = 'MLOpsRequestError';
  }

  /**
   * Whether the server answered at all (a status of 0 means a network error).
   */
  get isNetworkError(): boolean {
    return this.status === 0;
  }
}

/**
 * Call the jupyter_mlops REST API.
 *
 * @param endpoint - path under `/mlops/api/`, with an optional query string
 * @param init - the fetch options (method, body...)
 * @param settings - the server connection settings (the default ones otherwise)
 * @returns the decoded JSON body, or `undefined` for `204 No Content`
 * @throws MLOpsRequestError on a network error or an HTTP error status
 */
export async function requestAPI<T>(
  endpoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const [path, query] = splitQuery(endpoint);
  const url =
    URLExt.join(settings.baseUrl, API_NAMESPACE, path) +
    (query ? `?${query}` : '');

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new MLOpsRequestError(
      0,
      `Cannot reach the Jupyter server (${String(error)}).`
    );
  }

  const text = await response.text();
  const data = parseBody(text);
  if (!response.ok) {
    throw new MLOpsRequestError(
      response.status,
      errorMessage(data, response),
      data
    );
  }
  return (response.status === 204 ? undefined : data) as T;
}

/**
 * Encode a JSON body with its content type, for `requestAPI` init options.
 */
export function jsonBody(method: string, body: unknown): RequestInit {
  return {
    method,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  };
}

function splitQuery(endpoint: string): [string, string] {
  const index = endpoint.indexOf('?');
  return index < 0
    ? [endpoint, '']
    : [endpoint.slice(0, index), endpoint.slice(index + 1)];
}

function parseBody(text: string): unknown {
  if (!text) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorMessage(data: unknown, response: Response): string {
  if (data && typeof data === 'object' && 'message' in data) {
    const message = (data as { message: unknown }).message;
    if (typeof message === 'string' && message) {
      return message;
    }
  }
  if (typeof data === 'string' && data && !data.trimStart().startsWith('<')) {
    return data;
  }
  return `${response.status} ${response.statusText || 'Error'}`.trim();
}
