/**
 * Typed client of the governance routes (`/mlops/api/audit`, lineage, cards).
 *
 * The interfaces mirror `jupyter_mlops/core/governance/` (audit.py, cards.py).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { jsonBody, requestAPI } from './request';

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

export async function auditOf(target: string): Promise<AuditEvent[]> {
  const query = URLExt.objectToQueryString({ target });
  const page = await requestAPI<{ items: AuditEvent[] }>(`audit${query}`);
  return page.items;
}

export async function verifyAudit(): Promise<ChainReport> {
  return requestAPI<ChainReport>('audit/verify');
}

export async function deploymentLineage(name: string): Promise<LineageChain> {
  return requestAPI<LineageChain>(
    `deployments/${encodeURIComponent(name)}/lineage`
  );
}

export async function modelCard(
  name: string,
  version: string
): Promise<ModelCard> {
  return requestAPI<ModelCard>(
    `models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/card`
  );
}

export async function updateCard(
  name: string,
  version: string,
  sections: { intended_use?: string; limitations?: string }
): Promise<ModelCard> {
  return requestAPI<ModelCard>(
    `models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/card`,
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
