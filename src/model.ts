import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import * as api from './api';
import {
  Alert,
  Deployment,
  DeploymentSpec,
  Health,
  MonitoringReport,
  RegisteredModel,
  RolloutEvent,
  UIConfig
} from './api';
import { MLOpsRequestError } from './request';
import { isInProgress } from './utils';

/** The REST calls the model makes; replaceable in tests. */
export type MLOpsClient = Pick<
  typeof api,
  | 'listModels'
  | 'listDeployments'
  | 'getDeployment'
  | 'createDeployment'
  | 'deleteDeployment'
  | 'setAlias'
  | 'deleteAlias'
  | 'getModel'
  | 'getUIConfig'
  | 'setTraffic'
  | 'promote'
  | 'rollback'
  | 'listEvents'
  | 'getHealth'
  | 'getMonitoring'
  | 'listAlerts'
>;

/**
 * Frontend state of the MLOps sidebar: registered models and deployments,
 * refreshed by a poll, with signals for the views.
 *
 * The poll runs at the configured interval while the sidebar is visible, goes
 * to standby when it is hidden (or the browser tab is), backs off when the
 * server fails, and speeds up while a deployment is on its way to ready.
 */
export class MLOpsModel implements IDisposable {
  constructor(options: MLOpsModel.IOptions = {}) {
    this._client = options.client ?? api;
    this._interval = options.refreshInterval ?? MLOpsModel.DEFAULT_INTERVAL;
    this._fastInterval = options.fastInterval ?? MLOpsModel.FAST_INTERVAL;
    this._active = options.active ?? false;
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetch(),
      frequency: this._frequency(this._interval),
      name: 'jupyter_mlops:refresh',
      standby: () => (this._active ? 'when-hidden' : true)
    });
    void this._poll.start();
  }

  /** Emitted on any change: models, deployments or status. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get modelsChanged(): ISignal<this, RegisteredModel[]> {
    return this._modelsChanged;
  }

  get deploymentsChanged(): ISignal<this, Deployment[]> {
    return this._deploymentsChanged;
  }

  get models(): RegisteredModel[] {
    return this._models;
  }

  get deployments(): Deployment[] {
    return this._deployments;
  }

  /**
   * The catalog search: text the model names contain, matched by the server
   * (case-insensitive). Setting it resets the catalog to its first page.
   */
  get filter(): string {
    return this._filter;
  }
  set filter(text: string) {
    if (text === this._filter) {
      return;
    }
    this._filter = text;
    this._modelLimit = MLOpsModel.MODEL_PAGE_SIZE;
    this._filtering = true;
    this._changed.emit();
    void this.refresh();
  }

  /** Whether the server has more models than the ones loaded. */
  get hasMoreModels(): boolean {
    return this._hasMoreModels;
  }

  /** Whether a new search is on its way (the list shows the previous one). */
  get searching(): boolean {
    return this._filtering;
  }

  /**
   * Load the next page of the catalog. Later refreshes keep every loaded page
   * current in one request.
   */
  async loadMoreModels(): Promise<void> {
    if (!this._hasMoreModels) {
      return;
    }
    this._modelLimit = Math.min(
      this._modelLimit + MLOpsModel.MODEL_PAGE_SIZE,
      MLOpsModel.MAX_MODELS
    );
    await this.refresh();
  }

  /** Each deployment's health (score and colour), when the server reports it. */
  health(name: string): Health | undefined {
    return this._health.get(name);
  }

  /**
   * Why Roll back cannot work on a deployment: null when it can (a canary to
   * drop, or a previous primary to return to), undefined until its rollout
   * history has been read (the server then decides).
   */
  rollbackBlocked(deployment: Deployment): string | null | undefined {
    if (deployment.variants.some(v => v.role === 'canary')) {
      return null;
    }
    const known = this._rollback.get(deployment.name);
    return known && known.key === rolloutKey(deployment)
      ? known.reason
      : undefined;
  }

  /** The version an alias of a loaded model points at now, when known. */
  aliasVersion(model: string, alias: string): string | undefined {
    return this._models.find(m => m.name === model)?.aliases[alias];
  }

  /** Emitted once per alert that fires while the sidebar runs. */
  get alertFired(): ISignal<this, Alert> {
    return this._alertFired;
  }

  /**
   * Set a deployment's traffic split, e.g. `{primary: 80, canary: 20}`, and
   * follow it until the change is live.
   */
  async setTraffic(
    name: string,
    weights: Record<string, number>
  ): Promise<Deployment> {
    return this._follow(await this._client.setTraffic(name, weights));
  }

  /** Make the canary the primary at 100%. */
  async promote(name: string): Promise<Deployment> {
    return this._follow(await this._client.promote(name));
  }

  /** Drop the canary, or go back to the previous primary. */
  async rollback(name: string): Promise<Deployment> {
    return this._follow(await this._client.rollback(name));
  }

  /** A deployment's rollout history, oldest first. */
  events(name: string): Promise<RolloutEvent[]> {
    return this._client.listEvents(name);
  }

  /** A deployment's monitoring over a window such as "1h". */
  monitoring(name: string, window = '1h'): Promise<MonitoringReport> {
    return this._client.getMonitoring(name, window);
  }

  /** The server's read-only settings, once `loadUIConfig` has read them. */
  get uiConfig(): UIConfig | null {
    return this._uiConfig;
  }

  /**
   * Read the server's settings (MLflow UI link, default target) once; a
   * server without the `config` route leaves them unset.
   */
  async loadUIConfig(): Promise<UIConfig | null> {
    try {
      this._uiConfig = await this._client.getUIConfig();
      this._changed.emit();
    } catch {
      // An older server: no MLflow UI link, the settings' default target.
    }
    return this._uiConfig;
  }

  /** One model with its versions in detail (metrics, params, signature). */
  getModel(name: string): Promise<RegisteredModel> {
    return this._client.getModel(name);
  }

  /** Whether a first refresh has completed (successfully or not). */
  get loaded(): boolean {
    return this._loaded;
  }

  /** The last refresh error, cleared by the next successful refresh. */
  get error(): MLOpsRequestError | null {
    return this._error;
  }

  /** Emitted when a refresh fails after having succeeded (or at first). */
  get refreshFailed(): ISignal<this, MLOpsRequestError> {
    return this._refreshFailed;
  }

  /** Whether the views are visible: polling stands by when they are not. */
  get active(): boolean {
    return this._active;
  }
  set active(active: boolean) {
    if (active === this._active) {
      return;
    }
    this._active = active;
    if (active) {
      void this._poll.refresh();
    }
  }

  /** The refresh interval in milliseconds. */
  get refreshInterval(): number {
    return this._interval;
  }
  set refreshInterval(interval: number) {
    if (interval === this._interval || !(interval > 0)) {
      return;
    }
    this._interval = interval;
    this._updateFrequency();
    if (this._active) {
      void this._poll.refresh();
    }
  }

  /** Whether any deployment is on its way to ready or failed. */
  get hasDeploymentInProgress(): boolean {
    return this._deployments.some(d => isInProgress(d.state));
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    this._watches.forEach(poll => poll.dispose());
    this._watches.clear();
    Signal.clearData(this);
  }

  /**
   * Fetch models and deployments now.
   */
  async refresh(): Promise<void> {
    try {
      await this._fetch();
    } catch {
      // Recorded in `error` and reported through `refreshFailed`.
    }
  }

  /**
   * Ask for a deployment and follow its progress until ready or failed.
   *
   * @throws MLOpsRequestError with the server's message when it is refused
   */
  async deploy(spec: DeploymentSpec): Promise<Deployment> {
    const deployment = await this._client.createDeployment(spec);
    this._upsert(deployment);
    this.watch(deployment.name);
    return deployment;
  }

  /**
   * Follow one deployment (`GET deployments/{name}`) at the fast interval
   * until it is ready, failed or gone.
   */
  watch(name: string): void {
    if (this._isDisposed || this._watches.has(name)) {
      return;
    }
    const poll = new Poll({
      factory: async () => {
        try {
          const deployment = await this._client.getDeployment(name);
          this._upsert(deployment);
          if (!isInProgress(deployment.state)) {
            this._unwatch(name);
          }
        } catch (error) {
          if (error instanceof MLOpsRequestError && error.status === 404) {
            this._remove(name);
            this._unwatch(name);
            return;
          }
          throw error;
        }
      },
      frequency: this._frequency(this._fastInterval),
      name: `jupyter_mlops:watch:${name}`,
      standby: 'never'
    });
    this._watches.set(name, poll);
  }

  /**
   * Stop a deployment and drop it from the list.
   */
  async stopDeployment(name: string): Promise<void> {
    await this._client.deleteDeployment(name);
    this._unwatch(name);
    this._remove(name);
    void this._poll.refresh();
  }

  /**
   * Point an alias at a version, then refresh the models.
   */
  async setAlias(model: string, alias: string, version: string): Promise<void> {
    await this._client.setAlias(model, alias, version);
    await this.refresh();
  }

  async deleteAlias(model: string, alias: string): Promise<void> {
    await this._client.deleteAlias(model, alias);
    await this.refresh();
  }

  private async _fetch(): Promise<void> {
    const seq = ++this._seq;
    try {
      const [models, deployments] = await Promise.all([
        this._fetchModels(),
        this._client.listDeployments(),
        this._fetchHealthAndAlerts()
      ]);
      if (seq !== this._seq || this._isDisposed) {
        return; // A newer refresh has started: its answer wins.
      }
      this._error = null;
      this._loaded = true;
      this._filtering = false;
      this._models = models;
      this._modelsChanged.emit(models);
      this._setDeployments(deployments.items);
    } catch (reason) {
      if (seq !== this._seq || this._isDisposed) {
        return;
      }
      const error =
        reason instanceof MLOpsRequestError
          ? reason
          : new MLOpsRequestError(0, String(reason));
      const isNew = this._error?.message !== error.message;
      this._error = error;
      this._loaded = true;
      this._filtering = false;
      this._changed.emit();
      if (isNew) {
        this._refreshFailed.emit(error);
      }
      throw error; // Lets the poll back off.
    }
  }

  /**
   * The loaded part of the catalog in one request: the server filters and
   * pages, so the sidebar never reads every model of a large registry.
   */
  private async _fetchModels(): Promise<RegisteredModel[]> {
    const result = await this._client.listModels({
      filter: this._filter.trim() || undefined,
      maxResults: this._modelLimit
    });
    this._hasMoreModels =
      !!result.next_page_token && this._modelLimit < MLOpsModel.MAX_MODELS;
    return result.items;
  }

  /**
   * Health colours and new alerts: optional extras, so a server without
   * monitoring (or a failing monitor) never breaks the lists.
   */
  private async _fetchHealthAndAlerts(): Promise<void> {
    const [health, alerts] = await Promise.allSettled([
      this._client.getHealth(),
      this._client.listAlerts()
    ]);
    if (health.status === 'fulfilled') {
      this._health = new Map(
        (health.value.deployments ?? []).map(d => [d.name, d])
      );
    }
    if (alerts.status === 'fulfilled') {
      const firstLook = this._seenAlerts === null;
      const seen = this._seenAlerts ?? new Set<string>();
      for (const alert of alerts.value) {
        const id = String(alert.id);
        if (seen.has(id)) {
          continue;
        }
        seen.add(id);
        // Alerts already there when the sidebar starts are not news.
        if (!firstLook && alert.state === 'firing') {
          this._alertFired.emit(alert);
        }
      }
      this._seenAlerts = seen;
    }
  }

  private _follow(deployment: Deployment): Deployment {
    this._upsert(deployment);
    this.watch(deployment.name);
    return deployment;
  }

  private _setDeployments(deployments: Deployment[]): void {
    this._deployments = deployments;
    this._updateFrequency();
    this._deploymentsChanged.emit(deployments);
    this._changed.emit();
    void this._checkRollbacks(deployments);
  }

  /**
   * Read the rollout history of each deployment without a canary whose
   * variants changed, to know whether a previous primary was recorded (a
   * promote, a replacing deploy, a sync or a rollback to it).
   */
  private async _checkRollbacks(deployments: Deployment[]): Promise<void> {
    const stale = deployments.filter(
      d =>
        !isInProgress(d.state) &&
        !d.variants.some(v => v.role === 'canary') &&
        this._rollback.get(d.name)?.key !== rolloutKey(d) &&
        !this._rollbackReading.has(rolloutKey(d))
    );
    for (const d of stale) {
      const key = rolloutKey(d);
      this._rollbackReading.add(key);
      try {
        const events = await this._client.listEvents(d.name);
        const deploys = events.filter(e => e.kind === 'deploy').length;
        const previous =
          deploys > 1 ||
          events.some(
            e =>
              e.kind === 'promote' ||
              e.kind === 'sync' ||
              (e.kind === 'rollback' && /^primary back/.test(e.message))
          );
        this._rollback.set(d.name, {
          key,
          reason: previous ? null : MLOpsModel.NOTHING_TO_ROLL_BACK
        });
        if (!this._isDisposed) {
          this._changed.emit();
        }
      } catch {
        // Unknown: the button stays enabled and the server decides.
      } finally {
        this._rollbackReading.delete(key);
      }
    }
  }

  private _upsert(deployment: Deployment): void {
    const index = this._deployments.findIndex(d => d.name === deployment.name);
    const next = [...this._deployments];
    if (index < 0) {
      next.unshift(deployment);
    } else {
      next[index] = deployment;
    }
    this._setDeployments(next);
  }

  private _remove(name: string): void {
    if (this._deployments.some(d => d.name === name)) {
      this._setDeployments(this._deployments.filter(d => d.name !== name));
    }
  }

  private _unwatch(name: string): void {
    const poll = this._watches.get(name);
    if (poll) {
      this._watches.delete(name);
      // Disposing from inside the poll's own factory must wait for it to end.
      void Promise.resolve().then(() => poll.dispose());
    }
  }

  private _updateFrequency(): void {
    const interval = this.hasDeploymentInProgress
      ? Math.min(this._fastInterval, this._interval)
      : this._interval;
    this._poll.frequency = this._frequency(interval);
  }

  private _frequency(interval: number) {
    return {
      interval,
      backoff: true,
      max: Math.max(interval, MLOpsModel.MAX_BACKOFF)
    };
  }

  private _rollback = new Map<string, { key: string; reason: string | null }>();
  private _rollbackReading = new Set<string>();
  private _client: MLOpsClient;
  private _interval: number;
  private _fastInterval: number;
  private _active: boolean;
  private _poll: Poll;
  private _watches = new Map<string, Poll>();
  private _seq = 0;
  private _models: RegisteredModel[] = [];
  private _filter = '';
  private _health = new Map<string, Health>();
  private _seenAlerts: Set<string> | null = null;
  private _alertFired = new Signal<this, Alert>(this);
  private _uiConfig: UIConfig | null = null;
  private _filtering = false;
  private _modelLimit = MLOpsModel.MODEL_PAGE_SIZE;
  private _hasMoreModels = false;
  private _deployments: Deployment[] = [];
  private _loaded = false;
  private _error: MLOpsRequestError | null = null;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
  private _modelsChanged = new Signal<this, RegisteredModel[]>(this);
  private _deploymentsChanged = new Signal<this, Deployment[]>(this);
  private _refreshFailed = new Signal<this, MLOpsRequestError>(this);
}

/** What a deployment's rollback depends on: its variants and last change. */
function rolloutKey(d: Deployment): string {
  return JSON.stringify([
    d.name,
    d.updated_at ?? '',
    d.variants.map(v => [v.role, v.model_name, v.model_version])
  ]);
}

export namespace MLOpsModel {
  /** The tooltip of a disabled Roll back (no canary, no previous primary). */
  export const NOTHING_TO_ROLL_BACK =
    'Nothing to roll back to: no canary to drop and no previous version served here.';

  /** Default refresh interval (ms), the `refreshInterval` setting's default. */
  export const DEFAULT_INTERVAL = 5000;
  /** Refresh interval (ms) while a deployment is in progress. */
  export const FAST_INTERVAL = 1000;
  /** Longest wait (ms) between retries while the server keeps failing. */
  export const MAX_BACKOFF = 60 * 1000;
  /** Models per catalog page ("Load more" adds one page). */
  export const MODEL_PAGE_SIZE = 50;
  /** The most models the sidebar holds (the API's largest page). */
  export const MAX_MODELS = 1000;

  export interface IOptions {
    /** Refresh interval in milliseconds. */
    refreshInterval?: number;
    /** Refresh interval in milliseconds while a deployment is in progress. */
    fastInterval?: number;
    /** Whether the views start visible (polling stands by otherwise). */
    active?: boolean;
    /** The REST client; the real one by default. */
    client?: MLOpsClient;
  }
}
