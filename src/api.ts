/**
 * Typed client of the jupyter_mlops REST API (`/mlops/api`).
 *
 * The interfaces mirror the records of `jupyter_mlops/core/models.py`: keep
 * field names and optionality in step with that file. Timestamps arrive as
 * ISO 8601 strings; optional Python fields arrive as `null` or are absent.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { jsonBody, requestAPI } from './request';

// --- registry views (MLflow owns these) ------------------------------------

export interface ModelSignature {
  inputs?: unknown;
  outputs?: unknown;
  [key: string]: unknown;
}

export interface ModelVersion {
  name: string;
  /** A positive integer as a string, e.g. "3". */
  version: string;
  aliases: string[];
  run_id?: string | null;
  source?: string | null;
  status?: string | null;
  description?: string | null;
  tags: Record<string, string>;
  created_at?: string | null;
  signature?: ModelSignature | null;
  metrics: Record<string, number>;
  params: Record<string, string>;
}

export interface RegisteredModel {
  name: string;
  description?: string | null;
  tags: Record<string, string>;
  /** alias -> version, e.g. {"champion": "3"}. */
  aliases: Record<string, string>;
  latest_version?: string | null;
  created_at?: string | null;
  updated_at?: string | null;
  /** Newest first. */
  versions: ModelVersion[];
}

/** One page of a list; `next_page_token` is absent or null on the last page. */
export interface Page<T> {
  items: T[];
  next_page_token?: string | null;
  total?: number | null;
}

// --- deployments (jupyter_mlops owns these) --------------------------------

export type VariantRole = 'primary' | 'canary' | 'shadow';

export type DeploymentState =
  | 'pending'
  | 'resolving'
  | 'loading'
  | 'warming'
  | 'ready'
  | 'failed'
  | 'stopped'
  | 'unknown';

export type StepStatus = 'pending' | 'running' | 'done' | 'failed';

/** The steps of a deployment, in order (`DEPLOY_STEPS` in core/models.py). */
export const DEPLOY_STEPS = ['resolving', 'loading', 'warming', 'ready'];

/** States in which a deployment is still on its way to ready or failed. */
export const IN_PROGRESS_STATES: ReadonlyArray<DeploymentState> = [
  'pending',
  'resolving',
  'loading',
  'warming'
];

export interface DeploymentStep {
  name: string;
  status: StepStatus;
  message?: string | null;
  started_at?: string | null;
  finished_at?: string | null;
}

export interface Variant {
  name: string;
  model_name: string;
  model_version: string;
  /** Share of traffic, 0-100. */
  weight: number;
  role: VariantRole;
}

export interface Deployment {
  name: string;
  owner?: string | null;
  target: string;
  /** What the user asked for: NAME, NAME/VERSION or NAME@ALIAS. */
  model_ref: string;
  model_name: string;
  model_version: string;
  variants: Variant[];
  state: DeploymentState;
  steps: DeploymentStep[];
  message?: string | null;
  url?: string | null;
  created_at?: string | null;
  updated_at?: string | null;
}

/** The body of `POST deployments` (`DeploymentSpec` without `wait`). */
export interface DeploymentSpec {
  /** NAME, NAME/VERSION or NAME@ALIAS. */
  model: string;
  /** A DNS label; derived from the model name by the server when absent. */
  name?: string;
  target?: string;
}

export interface VersionInfo {
  version: string;
}

export interface ListModelsOptions {
  filter?: string;
  maxResults?: number;
  pageToken?: string;
}

// --- calls -----------------------------------------------------------------

const seg = encodeURIComponent;

export function getServerVersion(): Promise<VersionInfo> {
  return requestAPI<VersionInfo>('version');
}

export function listModels(
  options: ListModelsOptions = {}
): Promise<Page<RegisteredModel>> {
  const query: Record<string, string> = {};
  if (options.filter) {
    query.filter = options.filter;
  }
  if (options.maxResults !== undefined) {
    query.max_results = String(options.maxResults);
  }
  if (options.pageToken) {
    query.page_token = options.pageToken;
  }
  return requestAPI<Page<RegisteredModel>>(
    `models${URLExt.objectToQueryString(query)}`
  );
}

export function getModel(name: string): Promise<RegisteredModel> {
  return requestAPI<RegisteredModel>(`models/${seg(name)}`);
}

export function setAlias(
  name: string,
  alias: string,
  version: string
): Promise<ModelVersion> {
  return requestAPI<ModelVersion>(
    `models/${seg(name)}/aliases/${seg(alias)}`,
    jsonBody('PUT', { version })
  );
}

export async function deleteAlias(name: string, alias: string): Promise<void> {
  await requestAPI<void>(`models/${seg(name)}/aliases/${seg(alias)}`, {
    method: 'DELETE'
  });
}

export function listDeployments(): Promise<Page<Deployment>> {
  return requestAPI<Page<Deployment>>('deployments');
}

export function getDeployment(name: string): Promise<Deployment> {
  return requestAPI<Deployment>(`deployments/${seg(name)}`);
}

/**
 * Ask for a deployment. The server answers 202 with the deployment in an early
 * state; follow it with `getDeployment` until it is ready or failed.
 */
export function createDeployment(spec: DeploymentSpec): Promise<Deployment> {
  return requestAPI<Deployment>('deployments', jsonBody('POST', spec));
}

export async function deleteDeployment(name: string): Promise<void> {
  await requestAPI<void>(`deployments/${seg(name)}`, { method: 'DELETE' });
}

/**
 * Score a payload on a deployment; the answer is MLflow's scoring response.
 */
export function predict<T = unknown>(
  name: string,
  payload: unknown
): Promise<T> {
  return requestAPI<T>(
    `deployments/${seg(name)}/predict`,
    jsonBody('POST', payload)
  );
}
