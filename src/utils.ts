import {
  DEPLOY_STEPS,
  Deployment,
  DeploymentState,
  DeploymentStep,
  IN_PROGRESS_STATES,
  StepStatus
} from './api';

/** Deployment names are RFC 1123 labels (`validation.deployment_name`). */
export const MAX_DEPLOYMENT_NAME_LENGTH = 63;
const DEPLOYMENT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * Whether a deployment name is a valid lowercase DNS label.
 */
export function isValidDeploymentName(name: string): boolean {
  return (
    name.length <= MAX_DEPLOYMENT_NAME_LENGTH && DEPLOYMENT_NAME.test(name)
  );
}

/**
 * Derive a deployment name from a model name, the way the server suggests one:
 * lowercase, runs of other characters folded into '-', trimmed to 63.
 */
export function toDeploymentName(modelName: string): string {
  const name = modelName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_DEPLOYMENT_NAME_LENGTH)
    .replace(/-+$/, '');
  return name || 'my-model';
}

/**
 * Whether a deployment is still on its way to ready or failed.
 */
export function isInProgress(state: DeploymentState): boolean {
  return IN_PROGRESS_STATES.includes(state);
}

/**
 * The steps to show for a deployment: the server's own, or the standard ones
 * inferred from the state when the server sent none.
 */
export function stepsOf(deployment: Deployment): DeploymentStep[] {
  if (deployment.steps.length > 0) {
    return deployment.steps;
  }
  const state = deployment.state;
  const current = DEPLOY_STEPS.indexOf(state);
  return DEPLOY_STEPS.map((name, index): DeploymentStep => {
    let status: StepStatus = 'pending';
    if (state === 'ready') {
      status = 'done';
    } else if (current >= 0) {
      status =
        index < current ? 'done' : index === current ? 'running' : 'pending';
    } else if (state === 'failed' && index === 0) {
      status = 'failed';
    }
    return { name, status };
  });
}

/**
 * The step that failed, if any, with the message to show.
 */
export function failedStep(deployment: Deployment): DeploymentStep | null {
  return deployment.steps.find(step => step.status === 'failed') ?? null;
}

/**
 * Normalise an npm version to its PEP 440 spelling, so the frontend's
 * `0.2.0-beta.1` and the server's `0.2.0b1` compare equal.
 */
export function normalizeVersion(version: string): string {
  return version
    .trim()
    .replace(/^v/, '')
    .replace(/-alpha\.?(\d+)/, 'a$1')
    .replace(/-beta\.?(\d+)/, 'b$1')
    .replace(/-rc\.?(\d+)/, 'rc$1')
    .replace(/-dev\.?(\d+)/, '.dev$1');
}

/**
 * Whether the frontend and server versions are the same release.
 */
export function versionsMatch(frontend: string, server: string): boolean {
  return normalizeVersion(frontend) === normalizeVersion(server);
}

/**
 * Python for a notebook cell that scores a deployment: through the
 * jupyter_mlops API, and the same request over plain HTTP with `requests`.
 * `X` is left for the user to define (a DataFrame with the input columns).
 */
export function predictionSnippet(deployment: Deployment): string {
  const name = JSON.stringify(deployment.name);
  const lines = [
    `# Score deployment ${name} (${deployment.model_name}/${deployment.model_version}).`,
    '# X: a pandas DataFrame with the columns of the model signature.',
    'import jupyter_mlops',
    '',
    `predictions = jupyter_mlops.predict(${name}, X)`
  ];
  if (deployment.url) {
    lines.push(
      '',
      '# The same request over HTTP (MLflow scoring protocol):',
      'import requests',
      '',
      'response = requests.post(',
      `    ${JSON.stringify(deployment.url)},`,
      '    json={"dataframe_split": X.to_dict(orient="split", index=False)},',
      '    timeout=30,',
      ')',
      'response.raise_for_status()',
      'response.json()["predictions"]'
    );
  } else {
    lines.push('predictions');
  }
  return lines.join('\n');
}

/**
 * An alert's message without the deployment's name in front when the UI
 * already shows which deployment it is about.
 */
export function alertText(alert: {
  message: string;
  deployment?: string | null;
}): string {
  const prefix = alert.deployment ? `${alert.deployment}: ` : null;
  return prefix && alert.message.startsWith(prefix)
    ? alert.message.slice(prefix.length)
    : alert.message;
}

/**
 * The one timestamp format of the UI: local time with its zone, e.g.
 * "6 Dec 2026, 22:15:03 UTC" (exports keep ISO 8601 UTC).
 */
export function formatTime(value: string | Date | null | undefined): string {
  if (value === null || value === undefined || value === '') {
    return '';
  }
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    return String(value);
  }
  return date.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short'
  });
}
