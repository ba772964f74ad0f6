import { Notification } from '@jupyterlab/apputils';
import {
  acceptDialog,
  dangerDialog,
  dismissDialog,
  waitForDialog
} from '@jupyterlab/testutils';
import { fireEvent, waitFor } from '@testing-library/react';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';
import { deployWithDialog, stopWithConfirmation } from '../widgets/dialogs';
import { deployment, FakeClient, trans } from './fixtures';

/** The dialog's input of the given name, once React has rendered it. */
async function dialogInput(name: string): Promise<HTMLInputElement> {
  await waitForDialog();
  return waitFor(() => {
    const input = document.querySelector<HTMLInputElement>(
      `.jp-Dialog input[name="${name}"]`
    );
    if (!input) {
      throw new Error(`no input ${name}`);
    }
    return input;
  });
}

// Dialogs render through Lumino's message loop, outside React's act(): tell
// React this file is not an act() environment so it does not warn about it.
const reactGlobals = globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean };

describe('deploy and stop dialogs', () => {
  let client: FakeClient;
  let model: MLOpsModel;
  let actEnvironment: boolean | undefined;

  beforeAll(() => {
    actEnvironment = reactGlobals.IS_REACT_ACT_ENVIRONMENT;
    reactGlobals.IS_REACT_ACT_ENVIRONMENT = false;
  });

  afterAll(() => {
    reactGlobals.IS_REACT_ACT_ENVIRONMENT = actEnvironment;
  });

  beforeEach(() => {
    client = new FakeClient();
    model = new MLOpsModel({ client, fastInterval: 10 });
  });

  afterEach(async () => {
    model.dispose();
    jest.restoreAllMocks();
    // Close whatever dialog a test left open.
    while (document.querySelector('.jp-Dialog')) {
      await dismissDialog();
    }
  });

  const options = () => ({
    model,
    modelName: 'Churn_Model',
    version: '3',
    aliases: ['champion'],
    defaultTarget: 'local',
    trans
  });

  it('deploys with a DNS name derived from the model, then shows progress', async () => {
    const done = deployWithDialog(options());
    const name = await dialogInput('name');
    expect(name.value).toBe('churn-model');

    await acceptDialog();
    const result = await done;

    expect(client.createDeployment).toHaveBeenCalledWith({
      model: 'Churn_Model/3',
      name: 'churn-model',
      target: 'local'
    });
    expect(result?.name).toBe('churn-model');
    await waitForDialog();
    await waitFor(() =>
      expect(
        document.querySelector(
          '.jp-MLOps-progress-dialog [data-deployment-name="churn-model"][data-state="ready"]'
        )
      ).not.toBeNull()
    );
  });

  it('reopens the form with the error when the name is invalid or refused', async () => {
    const done = deployWithDialog(options());
    fireEvent.change(await dialogInput('name'), {
      target: { value: 'Bad_Name' }
    });
    await acceptDialog();

    await waitFor(() =>
      expect(
        document.querySelector('.jp-Dialog [role="alert"]')?.textContent
      ).toBe('"Bad_Name" is not a valid deployment name: try "bad-name".')
    );
    expect(client.createDeployment).not.toHaveBeenCalled();
    expect((await dialogInput('name')).value).toBe('Bad_Name');

    client.failWith = new MLOpsRequestError(409, 'bad-name already exists');
    fireEvent.change(await dialogInput('name'), {
      target: { value: 'bad-name' }
    });
    await acceptDialog();
    await waitFor(() =>
      expect(
        document.querySelector('.jp-Dialog [role="alert"]')?.textContent
      ).toBe('bad-name already exists')
    );

    await dismissDialog();
    await expect(done).resolves.toBeNull();
  });

  it('sends the serving limits of the advanced section, refusing a bad one first', async () => {
    const done = deployWithDialog(options());
    fireEvent.change(await dialogInput('max_rows'), {
      target: { value: '0' }
    });
    await acceptDialog();
    await waitFor(() =>
      expect(
        document.querySelector('.jp-Dialog [role="alert"]')?.textContent
      ).toBe('max_rows: Must be at least 1.')
    );
    expect(client.createDeployment).not.toHaveBeenCalled();
    // The retry keeps what was typed; blank limits stay the server's default.
    const rows = await dialogInput('max_rows');
    expect(rows.value).toBe('0');
    fireEvent.change(rows, { target: { value: '500' } });
    fireEvent.change(await dialogInput('timeout_ms'), {
      target: { value: '2000' }
    });
    await acceptDialog();
    await done;
    expect(client.createDeployment).toHaveBeenCalledWith({
      model: 'Churn_Model/3',
      name: 'churn-model',
      target: 'local',
      max_rows: 500,
      timeout_ms: 2000
    });
  });

  it('adds a canary with its share of traffic onto an existing deployment', async () => {
    client.deployments = [deployment('churn', { target: 'ray' })];
    await model.refresh();
    const done = deployWithDialog(options());
    await dialogInput('name');
    fireEvent.click(
      document.querySelector<HTMLInputElement>(
        '.jp-Dialog input[name="rollout"][value="canary"]'
      )!
    );
    const share = await dialogInput('canary');
    expect(share.value).toBe('10');
    fireEvent.change(share, { target: { value: '150' } });
    await acceptDialog();
    await waitFor(() =>
      expect(
        document.querySelector('.jp-Dialog [role="alert"]')?.textContent
      ).toBe('The canary share must be a whole number from 1 to 99 (got 150).')
    );
    expect(client.createDeployment).not.toHaveBeenCalled();

    fireEvent.change(await dialogInput('canary'), { target: { value: '20' } });
    await acceptDialog();
    const result = await done;
    expect(client.createDeployment).toHaveBeenCalledWith({
      model: 'Churn_Model/3',
      name: 'churn',
      target: 'ray',
      canary: 20
    });
    expect(result?.variants.map(v => [v.role, v.weight])).toEqual([
      ['primary', 80],
      ['canary', 20]
    ]);
  });

  it('adds a shadow onto an existing deployment', async () => {
    client.deployments = [deployment('churn')];
    await model.refresh();
    const done = deployWithDialog(options());
    await dialogInput('name');
    fireEvent.click(
      document.querySelector<HTMLInputElement>(
        '.jp-Dialog input[name="rollout"][value="shadow"]'
      )!
    );
    await acceptDialog();
    await done;
    expect(client.createDeployment).toHaveBeenCalledWith(
      expect.objectContaining({ name: 'churn', shadow: true })
    );
  });

  it('stops a deployment only after confirmation', async () => {
    client.deployments = [deployment('churn')];
    await model.refresh();
    const success = jest.spyOn(Notification, 'success');

    const cancelled = stopWithConfirmation(model, model.deployments[0], trans);
    await dismissDialog();
    await expect(cancelled).resolves.toBe(false);
    expect(client.deleteDeployment).not.toHaveBeenCalled();

    const stopped = stopWithConfirmation(model, model.deployments[0], trans);
    await dangerDialog();
    await expect(stopped).resolves.toBe(true);
    expect(client.deleteDeployment).toHaveBeenCalledWith('churn');
    expect(model.deployments).toEqual([]);
    expect(success).toHaveBeenCalled();
  });

  it('reports a failed stop as a notification', async () => {
    client.deployments = [deployment('churn')];
    await model.refresh();
    client.deleteDeployment.mockRejectedValueOnce(
      new MLOpsRequestError(403, 'Only the owner may stop churn.')
    );
    const error = jest.spyOn(Notification, 'error');

    const stopped = stopWithConfirmation(model, model.deployments[0], trans);
    await dangerDialog();

    await expect(stopped).resolves.toBe(false);
    expect(error.mock.calls[0][0]).toContain('Only the owner may stop churn.');
  });
});
