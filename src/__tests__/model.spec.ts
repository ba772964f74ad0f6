import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';
import {
  deployment,
  FakeClient,
  modelVersion,
  registeredModel
} from './fixtures';

/** Wait until `check` holds, polling every few milliseconds. */
async function until(check: () => boolean, timeout = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeout) {
      throw new Error('timed out');
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}

describe('MLOpsModel', () => {
  let client: FakeClient;
  let model: MLOpsModel;

  beforeEach(() => {
    client = new FakeClient();
  });

  afterEach(() => {
    model?.dispose();
  });

  it('loads models and deployments and signals the change', async () => {
    client.models = [registeredModel('churn', [modelVersion('churn', '1')])];
    client.deployments = [deployment('churn')];
    model = new MLOpsModel({ client });
    const changed = jest.fn();
    const deployments = jest.fn();
    model.changed.connect(changed);
    model.deploymentsChanged.connect(deployments);

    expect(model.loaded).toBe(false);
    await model.refresh();

    expect(model.loaded).toBe(true);
    expect(model.models.map(m => m.name)).toEqual(['churn']);
    expect(model.deployments.map(d => d.name)).toEqual(['churn']);
    expect(changed).toHaveBeenCalled();
    expect(deployments).toHaveBeenCalledWith(model, client.deployments);
  });

  it('loads one page of the catalog, then more on demand', async () => {
    client.models = Array.from({ length: 120 }, (_, i) =>
      registeredModel(`m${String(i).padStart(3, '0')}`, [])
    );
    model = new MLOpsModel({ client });

    await model.refresh();
    expect(model.models).toHaveLength(MLOpsModel.MODEL_PAGE_SIZE);
    expect(model.hasMoreModels).toBe(true);

    await model.loadMoreModels();
    await model.loadMoreModels();
    expect(model.models).toHaveLength(120);
    expect(model.hasMoreModels).toBe(false);
    // Each refresh asks for every loaded page at once, never page by page.
    expect(client.listModels).toHaveBeenLastCalledWith(
      expect.objectContaining({ maxResults: 150 })
    );
  });

  it('searches on the server and starts again from the first page', async () => {
    client.models = [
      registeredModel('churn', []),
      registeredModel('fraud', []),
      registeredModel('Churn-eu', [])
    ];
    model = new MLOpsModel({ client });
    await model.refresh();

    model.filter = 'churn';
    expect(model.searching).toBe(true);
    await until(() => !model.searching);

    expect(model.models.map(m => m.name)).toEqual(['churn', 'Churn-eu']);
    expect(client.listModels).toHaveBeenLastCalledWith(
      expect.objectContaining({
        filter: 'churn',
        maxResults: MLOpsModel.MODEL_PAGE_SIZE
      })
    );
  });

  it('reads the server settings, and survives a server without them', async () => {
    client.uiConfig = {
      mlflow_ui_url: 'http://mlflow:5000',
      default_target: 'ray'
    };
    model = new MLOpsModel({ client });
    expect(await model.loadUIConfig()).toEqual(client.uiConfig);
    expect(model.uiConfig?.mlflow_ui_url).toBe('http://mlflow:5000');

    const older = new FakeClient();
    older.getUIConfig.mockRejectedValue(new MLOpsRequestError(404, 'nope'));
    const other = new MLOpsModel({ client: older });
    expect(await other.loadUIConfig()).toBeNull();
    other.dispose();
  });

  it('does not poll while the sidebar is hidden, and refreshes when shown', async () => {
    model = new MLOpsModel({ client, refreshInterval: 10 });
    await new Promise(resolve => setTimeout(resolve, 60));
    expect(client.listDeployments).not.toHaveBeenCalled();

    model.active = true;
    await until(() => client.listDeployments.mock.calls.length >= 2);
  });

  it('polls faster while a deployment is in progress', async () => {
    model = new MLOpsModel({ client, refreshInterval: 5000, fastInterval: 10 });
    client.deployments = [deployment('churn', { state: 'loading' })];
    await model.refresh();
    expect(model.hasDeploymentInProgress).toBe(true);

    model.active = true;
    await until(() => client.listDeployments.mock.calls.length >= 4);

    client.deployments = [deployment('churn', { state: 'ready' })];
    await model.refresh();
    expect(model.hasDeploymentInProgress).toBe(false);
  });

  it('deploys and follows the deployment until it is ready', async () => {
    model = new MLOpsModel({ client, fastInterval: 10 });
    const states: string[] = [];
    model.deploymentsChanged.connect((_, list) => {
      states.push(list.find(d => d.name === 'churn')?.state ?? 'absent');
    });

    const accepted = await model.deploy({ model: 'churn/3', name: 'churn' });

    expect(accepted.state).toBe('pending');
    expect(client.createDeployment).toHaveBeenCalledWith({
      model: 'churn/3',
      name: 'churn'
    });
    await until(() => model.deployments[0]?.state === 'ready');
    expect(states).toEqual(['pending', 'loading', 'warming', 'ready']);
    const calls = client.getDeployment.mock.calls.length;
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(client.getDeployment.mock.calls.length).toBe(calls);
  });

  it('passes a refused deploy on with the server message', async () => {
    model = new MLOpsModel({ client });
    client.failWith = new MLOpsRequestError(409, 'churn already exists');
    await expect(model.deploy({ model: 'churn/3' })).rejects.toThrow(
      'churn already exists'
    );
    expect(model.deployments).toEqual([]);
  });

  it('records a refresh error, reports it once, and clears it on success', async () => {
    model = new MLOpsModel({ client });
    const failed = jest.fn();
    model.refreshFailed.connect(failed);
    client.failWith = new MLOpsRequestError(503, 'MLflow is down');

    await model.refresh();
    await model.refresh();

    expect(model.error?.message).toBe('MLflow is down');
    expect(failed).toHaveBeenCalledTimes(1);

    client.failWith = null;
    await model.refresh();
    expect(model.error).toBeNull();
  });

  it('keeps only the newest answer when refreshes overlap', async () => {
    model = new MLOpsModel({ client });
    let release: () => void = () => undefined;
    client.listDeployments.mockImplementationOnce(
      () =>
        new Promise(resolve => {
          release = () => resolve({ items: [deployment('old')] });
        })
    );
    const slow = model.refresh();
    client.deployments = [deployment('new')];
    await model.refresh();
    release();
    await slow;

    expect(model.deployments.map(d => d.name)).toEqual(['new']);
  });

  it('stops a deployment and drops it', async () => {
    client.deployments = [deployment('churn'), deployment('fraud')];
    model = new MLOpsModel({ client });
    await model.refresh();

    await model.stopDeployment('churn');

    expect(client.deleteDeployment).toHaveBeenCalledWith('churn');
    expect(model.deployments.map(d => d.name)).toEqual(['fraud']);
  });
});
