import { nullTranslator } from '@jupyterlab/translation';
import {
  Deployment,
  DeploymentStep,
  ModelVersion,
  Page,
  RegisteredModel
} from '../api';
import { MLOpsClient } from '../model';

/** The translation bundle used by components in tests (English, no-op). */
export const trans = nullTranslator.load('jupyter_mlops');

export function modelVersion(
  name: string,
  version: string,
  extra: Partial<ModelVersion> = {}
): ModelVersion {
  return {
    name,
    version,
    aliases: [],
    tags: {},
    metrics: {},
    params: {},
    ...extra
  };
}

/** A registered model with versions newest first, as the server lists them. */
export function registeredModel(
  name: string,
  versions: ModelVersion[],
  extra: Partial<RegisteredModel> = {}
): RegisteredModel {
  const aliases: Record<string, string> = {};
  for (const v of versions) {
    for (const alias of v.aliases) {
      aliases[alias] = v.version;
    }
  }
  return {
    name,
    tags: {},
    aliases,
    latest_version: versions[0]?.version ?? null,
    versions,
    ...extra
  };
}

export function deployment(
  name: string,
  extra: Partial<Deployment> = {}
): Deployment {
  return {
    name,
    target: 'local',
    model_ref: 'churn/3',
    model_name: 'churn',
    model_version: '3',
    variants: [
      {
        name: 'primary',
        model_name: 'churn',
        model_version: '3',
        weight: 100,
        role: 'primary'
      }
    ],
    state: 'ready',
    steps: [],
    url: `http://127.0.0.1:5100/deployments/${name}/invocations`,
    ...extra
  };
}

export function steps(
  ...statuses: Array<[string, DeploymentStep['status'], string?]>
): DeploymentStep[] {
  return statuses.map(([name, status, message]) => ({
    name,
    status,
    message: message ?? null
  }));
}

export function page<T>(items: T[], next?: string): Page<T> {
  return { items, next_page_token: next ?? null };
}

/**
 * An in-memory stand-in for the REST API: the real server needs Python,
 * MLflow and a serving daemon, which the browser-side unit tests do not run.
 * The real API is exercised by the Python handler tests and the UI tests.
 */
export class FakeClient implements MLOpsClient {
  models: RegisteredModel[] = [];
  deployments: Deployment[] = [];
  /** States a new deployment goes through, one per `getDeployment` call. */
  progression: Deployment['state'][] = ['loading', 'warming', 'ready'];
  failWith: Error | null = null;
  calls: string[] = [];

  listModels = jest.fn(async () => {
    this.calls.push('listModels');
    this._maybeFail();
    return page(this.models);
  });

  listDeployments = jest.fn(async () => {
    this.calls.push('listDeployments');
    this._maybeFail();
    return page(this.deployments);
  });

  getDeployment = jest.fn(async (name: string) => {
    this.calls.push(`getDeployment ${name}`);
    const index = this.deployments.findIndex(d => d.name === name);
    if (index < 0) {
      const { MLOpsRequestError } = await import('../request');
      throw new MLOpsRequestError(404, `No deployment ${name}`);
    }
    const state = this.progression.shift();
    if (state) {
      this.deployments[index] = { ...this.deployments[index], state };
    }
    return this.deployments[index];
  });

  createDeployment = jest.fn(
    async (spec: { model: string; name?: string; target?: string }) => {
      this._maybeFail();
      const created = deployment(spec.name ?? 'churn', {
        model_ref: spec.model,
        target: spec.target ?? 'local',
        state: 'pending',
        url: null
      });
      this.deployments.push(created);
      return created;
    }
  );

  deleteDeployment = jest.fn(async (name: string) => {
    this.deployments = this.deployments.filter(d => d.name !== name);
  });

  setAlias = jest.fn(async (name: string, alias: string, version: string) =>
    modelVersion(name, version, { aliases: [alias] })
  );

  deleteAlias = jest.fn(async () => undefined);

  private _maybeFail(): void {
    if (this.failWith) {
      throw this.failWith;
    }
  }
}
