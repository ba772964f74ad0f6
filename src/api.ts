/**
 * Typed client of the jupyter_mlops REST API (`/mlops/api`): the one module
 * the frontend calls the server through.
 *
 * The interfaces mirror the records of `jupyter_mlops/core/models.py` (and
 * `core/governance/` for audit, lineage, cards and approvals): keep
 * field names and optionality in step with that file. Timestamps arrive as
 * ISO 8601 strings; optional Python fields arrive as `null` or are absent.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { jsonBody, requestAPI } from './request';
// Types generated from core's pydantic models (scripts/gen_ts_types.py).
import type * as Generated from './generated/models';
export type { Generated };

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
  /** Onto an existing deployment: add the version as a canary with this share (%). */
  canary?: number;
  /** Onto an existing deployment: add the version as a shadow (mirrored traffic). */
  shadow?: boolean;
  /** A new deployment served by a supervised process of its own (local target). */
  isolated?: boolean;
  /** Per-request model call timeout (ms). */
  timeout_ms?: number;
  /** Requests waiting beyond this answer 503. */
  max_queue?: number;
  /** Rows per request beyond this answer 400. */
  max_rows?: number;
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

/** The settings of a deployment (serving limits, automatic rollback, monitoring). */
export type DeploymentSettings = Generated.DeploymentSettings;

/**
 * A change to some settings (`SettingsChange` in api/openapi.yaml): objects are
 * merged into the current ones by the server; `auto_rollback` may be a boolean.
 */
export interface SettingsChange {
  timeout_ms?: number;
  max_queue?: number;
  max_rows?: number;
  batching?: Generated.BatchingConfig;
  auto_rollback?: boolean | Generated.AutoRollbackConfig;
  monitoring?: Generated.MonitoringConfig;
}

/** Read a deployment's current settings. */
export function getDeploymentSettings(
  name: string
): Promise<DeploymentSettings> {
  return requestAPI<DeploymentSettings>(`deployments/${seg(name)}/settings`);
}

/**
 * Change some settings of a deployment; resolves with all of them once the
 * target serves them, rejects with the server's 400 naming the bad field.
 */
export function updateDeploymentSettings(
  name: string,
  change: SettingsChange
): Promise<DeploymentSettings> {
  return requestAPI<DeploymentSettings>(
    `deployments/${seg(name)}/settings`,
    jsonBody('PATCH', change)
  );
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

// --- sidebar settings from the server --------------------------------------

/** Read-only settings of the server extension (`GET config`). */
export interface UIConfig {
  /** Base URL of an MLflow UI to link to; null when none is configured. */
  mlflow_ui_url?: string | null;
  default_target: string;
}

export function getUIConfig(): Promise<UIConfig> {
  return requestAPI<UIConfig>('config');
}

/**
 * The MLflow UI page of a registered model (or one of its versions), when an
 * MLflow UI is configured.
 */
export function mlflowModelUrl(
  base: string | null | undefined,
  name: string,
  version?: string
): string | null {
  if (!base) {
    return null;
  }
  const root = base.replace(/\/+$/, '');
  const model = `${root}/#/models/${seg(name)}`;
  return version ? `${model}/versions/${seg(version)}` : model;
}

// --- rollouts (canary, shadow, traffic, promote, rollback) -----------------

/** One entry of a deployment's rollout history (`RolloutEvent`). */
export interface RolloutEvent {
  time: string;
  /** deploy, canary, shadow, traffic, promote, rollback, auto_rollback, sync, undeploy */
  kind: string;
  message: string;
  variant?: string | null;
  actor?: string | null;
}

/**
 * Set the traffic split by variant name or role, e.g. `{primary: 80,
 * canary: 20}` (shadows take 0; the weights sum to 100).
 */
export function setTraffic(
  name: string,
  weights: Record<string, number>
): Promise<Deployment> {
  return requestAPI<Deployment>(
    `deployments/${seg(name)}/traffic`,
    jsonBody('PUT', { weights })
  );
}

/** Make the canary (or shadow) the primary at 100%. */
export function promote(name: string): Promise<Deployment> {
  return requestAPI<Deployment>(`deployments/${seg(name)}/promote`, {
    method: 'POST'
  });
}

/** Drop the canary, or return to the previous primary. */
export function rollback(name: string): Promise<Deployment> {
  return requestAPI<Deployment>(`deployments/${seg(name)}/rollback`, {
    method: 'POST'
  });
}

export async function listEvents(name: string): Promise<RolloutEvent[]> {
  const page = await requestAPI<{ items: RolloutEvent[] }>(
    `deployments/${seg(name)}/events`
  );
  return page.items;
}

// --- monitoring -------------------------------------------------------------

/** `unknown`: no data in the window (no requests, drift or labels), no score. */
export type HealthColour = 'green' | 'amber' | 'red' | 'unknown';

export interface Health {
  score: number | null;
  colour: HealthColour | string;
  components?: Record<string, unknown>;
}

/** The fleet's health (`GET health`): one entry per deployment. */
export interface FleetHealth extends Health {
  deployments: Array<{ name: string } & Health>;
}

export interface OpsPoint {
  time: string;
  variant?: string | null;
  requests: number;
  errors: number;
  error_rate: number;
  p50_ms?: number | null;
  p95_ms?: number | null;
  p99_ms?: number | null;
  throughput_rps?: number | null;
}

export interface Histogram {
  bins: Array<number | string>;
  counts: number[];
}

export interface FeatureDrift {
  feature: string;
  statistic: string;
  value: number | null;
  threshold: number | null;
  drifted: boolean;
  baseline?: Histogram | null;
  live?: Histogram | null;
}

export interface Alert {
  id: string | number;
  rule: string;
  metric?: string;
  value?: number | null;
  threshold?: number | null;
  state: 'firing' | 'resolved' | string;
  fired_at?: string | null;
  message: string;
  deployment?: string | null;
}

/** A deployment's monitoring over one window (`GET .../monitoring`). */
export interface MonitoringReport {
  deployment: string;
  window: string;
  summary?: Record<string, number | null>;
  ops: OpsPoint[];
  drift: {
    share: number;
    drifted: boolean;
    features: FeatureDrift[];
    message?: string | null;
  } | null;
  performance: Array<{ time: string; metric: string; value: number }>;
  health: Health;
  alerts: Alert[];
  dropped_records: number;
}

export function getHealth(): Promise<FleetHealth> {
  return requestAPI<FleetHealth>('health');
}

export function getMonitoring(
  name: string,
  window = '1h'
): Promise<MonitoringReport> {
  return requestAPI<MonitoringReport>(
    `deployments/${seg(name)}/monitoring${URLExt.objectToQueryString({ window })}`
  );
}

export async function listAlerts(): Promise<Alert[]> {
  const page = await requestAPI<{ items: Alert[] }>('alerts');
  return page.items;
}

// --- governance (audit ledger, lineage, model cards, approvals) -------------

export interface AuditEvent {
  seq: number;
  at: string;
  action: string;
  actor: string;
  owner?: string | null;
  target: string;
  outcome: 'ok' | 'refused' | 'failed' | string;
  before?: unknown;
  after?: unknown;
  detail?: string | null;
  prev_hash: string;
  hash: string;
}

export interface ChainReport {
  ok: boolean;
  entries: number;
  first_broken?: number | null;
  message: string;
}

export interface LineageNode {
  kind: string;
  id: string;
  label: string;
  detail: Record<string, string>;
}

export interface LineageChain {
  subject: string;
  nodes: LineageNode[];
}

export interface ModelCard {
  name: string;
  version: string;
  intended_use: string;
  limitations: string;
  markdown: string;
  [key: string]: unknown;
}

export async function verifyAudit(): Promise<ChainReport> {
  return requestAPI<ChainReport>('audit/verify');
}

export async function deploymentLineage(name: string): Promise<LineageChain> {
  return requestAPI<LineageChain>(`deployments/${seg(name)}/lineage`);
}

export async function modelCard(
  name: string,
  version: string
): Promise<ModelCard> {
  return requestAPI<ModelCard>(
    `models/${seg(name)}/versions/${seg(version)}/card`
  );
}

export async function updateCard(
  name: string,
  version: string,
  sections: { intended_use?: string; limitations?: string }
): Promise<ModelCard> {
  return requestAPI<ModelCard>(
    `models/${seg(name)}/versions/${seg(version)}/card`,
    jsonBody('PUT', sections)
  );
}

/** `models:/NAME/VERSION` of the chain's version node, as [name, version]. */
export function versionOf(chain: LineageChain): [string, string] | null {
  const node = chain.nodes.find(n => n.kind === 'version');
  const match = node ? /^models:\/(.+)\/([^/]+)$/.exec(node.id) : null;
  return match ? [match[1], match[2]] : null;
}

/** A request for a protected change (`jupyter_mlops/core/governance/policy.py`). */
export interface Approval {
  id: number;
  action: string;
  target: string;
  payload: Record<string, unknown>;
  evidence: IApprovalEvidence;
  requested_by: string;
  owner?: string | null;
  status: 'pending' | 'granted' | 'rejected' | 'used' | string;
  decided_by?: string | null;
  comment?: string | null;
  created_at: string;
  decided_at?: string | null;
}

/** What an approver sees: the change, the candidate against the baseline. */
export interface IApprovalEvidence {
  change?: string;
  current?: IVariantState[];
  proposed?: IVariantState[];
  candidate?: { model: string; metrics: Record<string, number> } | null;
  baseline?: { model: string; metrics: Record<string, number> } | null;
  schema_diff?: {
    added: string[];
    removed: string[];
    changed: Record<string, [string, string]>;
  };
}

export interface IVariantState {
  name: string;
  model_name: string;
  model_version: string;
  weight: number;
  role: string;
}

/** The request that would allow a refused change (body of a 403 `APPROVAL_REQUIRED`). */
export interface IApprovalRequest {
  action: string;
  target: string;
  payload?: Record<string, unknown>;
}

export async function listApprovals(status?: string): Promise<Approval[]> {
  const query = status ? URLExt.objectToQueryString({ status }) : '';
  const page = await requestAPI<{ items: Approval[] }>(`approvals${query}`);
  return page.items;
}

export async function requestApproval(
  request: IApprovalRequest
): Promise<Approval> {
  return requestAPI<Approval>('approvals', jsonBody('POST', request));
}

export async function decideApproval(
  id: number,
  grant: boolean,
  comment?: string
): Promise<Approval> {
  return requestAPI<Approval>(
    `approvals/${id}/${grant ? 'grant' : 'reject'}`,
    jsonBody('POST', comment ? { comment } : {})
  );
}

/** The approval request a refusal carries, when an approval would allow it. */
export function approvalRequestOf(error: unknown): IApprovalRequest | null {
  const body = (error as { body?: unknown } | null)?.body as
    { reason?: string; approval_request?: IApprovalRequest } | null | undefined;
  return body?.reason === 'APPROVAL_REQUIRED' && body.approval_request
    ? body.approval_request
    : null;
}

/** Audit entries (oldest first), under a target such as `deployment/churn`. */
export async function listAudit(target?: string): Promise<AuditEvent[]> {
  const query = target ? { target, format: 'json' } : { format: 'json' };
  const page = await requestAPI<{ items: AuditEvent[] }>(
    `audit${URLExt.objectToQueryString(query)}`
  );
  return page.items;
}

/** The URL that downloads the audit log as CSV (the browser session authenticates it). */
export function auditCsvUrl(baseUrl: string, target?: string): string {
  const query = target ? { target, format: 'csv' } : { format: 'csv' };
  return (
    URLExt.join(baseUrl, 'mlops/api/audit') + URLExt.objectToQueryString(query)
  );
}

// --- model risk management (core/governance/risk.py, issue 17) -------------

/** Lifecycle statuses of the model inventory (`LIFECYCLE` in core). */
export const LIFECYCLE_STATUSES = [
  'development',
  'validation',
  'production',
  'retired'
] as const;

/**
 * The default risk tiers, highest first (`MLOpsConfig.risk_tiers`); an
 * installation may configure others, which the server then lists in its 400.
 */
export const DEFAULT_RISK_TIERS = ['high', 'medium', 'low'] as const;

/** The inventory record of a model (`version` null) or of one version. */
export interface InventoryEntry {
  model: string;
  version?: string | null;
  purpose?: string | null;
  intended_use?: string | null;
  business_owner?: string | null;
  technical_owner?: string | null;
  risk_tier?: string | null;
  lifecycle_status?: string | null;
  /** not_validated, approved, approved_with_conditions or rejected. */
  validation_status: string;
  validated_at?: string | null;
  /** YYYY-MM-DD. */
  next_review_due?: string | null;
  updated_at?: string | null;
  updated_by?: string | null;
}

/** Inventory fields to change: only those given change, `null` clears one. */
export type InventoryUpdate = Partial<
  Pick<
    InventoryEntry,
    | 'purpose'
    | 'intended_use'
    | 'business_owner'
    | 'technical_owner'
    | 'risk_tier'
    | 'lifecycle_status'
    | 'next_review_due'
  >
>;

function inventoryPath(name: string, version?: string | null): string {
  return version
    ? `models/${seg(name)}/versions/${seg(version)}/inventory`
    : `models/${seg(name)}/inventory`;
}

/** The inventory fields of a model, or of one of its versions. */
export function getInventory(
  name: string,
  version?: string | null
): Promise<InventoryEntry> {
  return requestAPI<InventoryEntry>(inventoryPath(name, version));
}

/**
 * Set inventory fields (audited); a 400 names the allowed tiers or statuses,
 * or says a review date is in the past.
 */
export function setInventory(
  name: string,
  fields: InventoryUpdate,
  version?: string | null
): Promise<InventoryEntry> {
  return requestAPI<InventoryEntry>(
    inventoryPath(name, version),
    jsonBody('PUT', fields)
  );
}
