import { Token } from '@lumino/coreutils';
import type { MLOpsModel } from './model';

/**
 * The commands of the extension, in one place.
 */
export namespace CommandIDs {
  /** Open the MLOps sidebar. */
  export const open = 'mlops:open';
  /** Fetch models and deployments now. */
  export const refresh = 'mlops:refresh';
  /** Deploy a model version; args `{model?: string, version?: string}`. */
  export const deploy = 'mlops:deploy';
  /** Open a registered model's detail; args `{model: string}`. */
  export const openModel = 'mlops:open-model';
  /** Add a cell calling a deployment below the active cell; args `{name}`. */
  export const insertCode = 'mlops:insert-code';
  /** Copy a deployment's endpoint URL; args `{name: string}`. */
  export const copyUrl = 'mlops:copy-url';
  /** Stop a deployment after confirmation; args `{name: string}`. */
  export const stop = 'mlops:stop';
  /** Open a deployment's monitoring and rollout history; args `{name}`. */
  export const monitor = 'mlops:monitor';
  /** Open the audit log. */
  export const audit = 'mlops:audit';
  /** Open the approval requests (grant or reject protected changes). */
  export const approvals = 'mlops:approvals';
  /** Open a deployment's lineage, audit history and model card; args `{name}`. */
  export const governance = 'mlops:governance';
}

/**
 * The MLOps model (models, deployments, health, alerts), shared by the sidebar
 * and any other extension that wants to follow or drive deployments.
 */
export type IMLOpsModel = MLOpsModel;

/** The token other plugins require to get the MLOps model. */
export const IMLOpsModel = new Token<IMLOpsModel>(
  'jupyter_mlops:IMLOpsModel',
  'The MLOps model: registered models, deployments, their health and alerts, refreshed by a poll.'
);
