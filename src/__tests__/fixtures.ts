import { nullTranslator } from '@jupyterlab/translation';
import {
  Deployment,
  DeploymentStep,
  ModelVersion,
  Page,
  Alert,
  Health,
  MonitoringReport,
  RegisteredModel,
  RolloutEvent,
  UIConfig
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

  /** Like the server: name contains the filter (any case), pages by offset. */
  listModels = jest.fn(
    async (
      options: {
        filter?: string;
        maxResults?: number;
        pageToken?: string;
      } = {}
    ) => {
      this.calls.push('listModels');
      this._maybeFail();
      const needle = (options.filter ?? '').toLowerCase();
      const matching = this.models.filter(m =>
        m.name.toLowerCase().includes(needle)
      );
      const start = Number(options.pageToken ?? 0);
      const end = start + (options.maxResults ?? 50);
      return page(
        matching.slice(start, end),
        end < matching.length ? String(end) : undefined
      );
    }
  );

  getModel = jest.fn(async (name: string) => {
    this.calls.push(`getModel ${name}`);
    const found = this.models.find(m => m.name === name);
    if (!found) {
      const { MLOpsRequestError } = await import('../request');
      throw new MLOpsRequestError(404, `Model '${name}' was not found.`);
    }
    return found;
  });

  uiConfig: UIConfig = { mlflow_ui_url: null, default_target: 'local' };

  getUIConfig = jest.fn(async () => this.uiConfig);

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
    async (spec: {
      model: string;
      name?: string;
      target?: string;
      canary?: number;
      shadow?: boolean;
    }) => {
      this._maybeFail();
      const index = this.deployments.findIndex(d => d.name === spec.name);
      if (index >= 0 && (spec.canary !== undefined || spec.shadow)) {
        // A rollout onto an existing deployment, like the server's.
        const current = this.deployments[index];
        const [modelName, modelVersion] = spec.model.split('/');
        const role = spec.shadow ? 'shadow' : 'canary';
        const weight = spec.canary ?? 0;
        const variants = current.variants.map(v =>
          v.role === 'primary' ? { ...v, weight: 100 - weight } : v
        );
        variants.push({
          name: role,
          model_name: modelName,
          model_version: modelVersion,
          weight,
          role
        });
        this.deployments[index] = { ...current, variants, state: 'loading' };
        return this.deployments[index];
      }
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

  /** Like the server: weights by variant name or role, summing to 100. */
  setTraffic = jest.fn(
    async (name: string, weights: Record<string, number>) => {
      this._maybeFail();
      const d = this._get(name);
      const total = Object.values(weights).reduce((a, b) => a + b, 0);
      if (total !== 100) {
        const { MLOpsRequestError } = await import('../request');
        throw new MLOpsRequestError(
          400,
          `Traffic weights must add up to 100 (got ${total}).`
        );
      }
      d.variants = d.variants.map(v => ({
        ...v,
        weight: weights[v.name] ?? weights[v.role] ?? v.weight
      }));
      return { ...d };
    }
  );

  promote = jest.fn(async (name: string) => {
    const d = this._get(name);
    const canary = d.variants.find(v => v.role !== 'primary');
    d.variants = canary
      ? [{ ...canary, name: 'primary', role: 'primary', weight: 100 }]
      : d.variants;
    return { ...d };
  });

  rollback = jest.fn(async (name: string) => {
    const d = this._get(name);
    d.variants = d.variants
      .filter(v => v.role === 'primary')
      .map(v => ({ ...v, weight: 100 }));
    return { ...d };
  });

  events: RolloutEvent[] = [];
  listEvents = jest.fn(async () => this.events);

  healthOf: Record<string, Health> = {};
  getHealth = jest.fn(async () => ({
    score: null,
    colour: 'green',
    deployments: Object.entries(this.healthOf).map(([name, h]) => ({
      name,
      ...h
    }))
  }));

  report: MonitoringReport | null = null;
  getMonitoring = jest.fn(async (name: string) => {
    if (!this.report) {
      const { MLOpsRequestError } = await import('../request');
      throw new MLOpsRequestError(404, `No monitoring for ${name}.`);
    }
    return this.report;
  });

  alerts: Alert[] = [];
  listAlerts = jest.fn(async () => this.alerts);

  private _get(name: string): Deployment {
    const d = this.deployments.find(x => x.name === name);
    if (!d) {
      throw new Error(`no deployment ${name}`);
    }
    return d;
  }

  private _maybeFail(): void {
    if (this.failWith) {
      throw this.failWith;
    }
  }
}
