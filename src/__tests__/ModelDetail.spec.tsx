import { act, fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { mlflowModelUrl } from '../api';
import { ModelDetail } from '../components/ModelDetail';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';
import { ModelDetailWidget } from '../widgets/detail';
import { FakeClient, modelVersion, registeredModel, trans } from './fixtures';

const detailed = () =>
  registeredModel(
    'churn',
    [
      modelVersion('churn', '2', {
        aliases: ['champion'],
        run_id: 'abc123',
        metrics: { accuracy: 0.91234, rows: 150 },
        params: { n_estimators: '20' },
        signature: {
          inputs: [{ name: 'tenure', type: 'double' }],
          outputs: [{ type: 'long' }]
        },
        tags: {
          'mlops.notebook': 'train.ipynb',
          'mlops.git.commit': 'deadbeef',
          'mlops.packages': '{"scikit-learn": "1.9.0"}',
          team: 'retention'
        }
      }),
      modelVersion('churn', '1')
    ],
    { description: 'Predicts churn.', tags: { domain: 'crm' } }
  );

function renderDetail(props: Partial<ModelDetail.IProps> = {}) {
  const handlers = {
    onDeploy: jest.fn(),
    onSetAlias: jest.fn(async () => undefined),
    onDeleteAlias: jest.fn(async () => undefined)
  };
  const view = render(
    <ModelDetail model={detailed()} trans={trans} {...handlers} {...props} />
  );
  return { ...view, ...handlers };
}

describe('ModelDetail', () => {
  it('shows description, tags, metrics, params, signature and lineage', () => {
    const { container } = renderDetail();
    expect(screen.getByText('Predicts churn.')).toBeTruthy();
    expect(screen.getByText('domain: crm')).toBeTruthy();

    const latest = container.querySelector('[data-version="2"]')!;
    expect(latest.hasAttribute('open')).toBe(true);
    const metrics = screen.getByRole('table', { name: 'Metrics' });
    expect(metrics.textContent).toContain('accuracy0.9123');
    expect(metrics.textContent).toContain('rows150');
    expect(
      screen.getByRole('table', { name: 'Parameters' }).textContent
    ).toContain('n_estimators20');
    const signature = screen.getByRole('table', { name: 'Signature' });
    expect(signature.textContent).toContain('tenuredouble input');
    expect(signature.textContent).toContain('long output');
    const lineage = screen.getByRole('table', { name: 'Lineage' });
    expect(lineage.textContent).toContain('Notebooktrain.ipynb');
    expect(lineage.textContent).toContain('Git commitdeadbeef');
    expect(lineage.textContent).toContain('Source runabc123');
    expect(container.querySelector('.jp-MLOps-packages pre')!.textContent).toBe(
      'scikit-learn==1.9.0'
    );
    // Our own mlops.* tags are shown as lineage, not repeated as tags.
    expect(screen.getByText('team: retention')).toBeTruthy();
    expect(screen.queryByText(/mlops.notebook:/)).toBeNull();
  });

  it('says what is missing for a version without a run or signature', () => {
    const { container } = renderDetail();
    const older = container.querySelector('[data-version="1"]')!;
    expect(older.textContent).toContain('No metrics logged by the source run.');
    expect(older.textContent).toContain(
      'No signature: the endpoint cannot check inputs.'
    );
  });

  it('moves an alias by picking another version, and removes one', async () => {
    const { onSetAlias, onDeleteAlias } = renderDetail();
    await act(async () => {
      fireEvent.change(
        screen.getByRole('combobox', { name: 'Version of alias champion' }),
        { target: { value: '1' } }
      );
    });
    expect(onSetAlias).toHaveBeenCalledWith('champion', '1');

    await act(async () => {
      fireEvent.click(
        screen.getByRole('button', { name: 'Remove alias champion' })
      );
    });
    expect(onDeleteAlias).toHaveBeenCalledWith('champion');
  });

  it('adds an alias, refusing an invalid name before asking the server', async () => {
    const { onSetAlias } = renderDetail();
    const input = screen.getByRole('textbox', { name: 'New alias' });
    fireEvent.change(input, { target: { value: '1bad name' } });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Set alias' }));
    });
    expect(onSetAlias).not.toHaveBeenCalled();
    expect(screen.getByRole('alert').textContent).toContain(
      '"1bad name" is not a valid alias'
    );

    fireEvent.change(input, { target: { value: 'challenger' } });
    fireEvent.change(
      screen.getByRole('combobox', { name: 'Version of the new alias' }),
      { target: { value: '1' } }
    );
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Set alias' }));
    });
    expect(onSetAlias).toHaveBeenCalledWith('challenger', '1');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it("shows the server's refusal of an alias move in place", async () => {
    const onSetAlias = jest.fn(async () => {
      throw new MLOpsRequestError(
        404,
        'Version 9 of model churn was not found.'
      );
    });
    renderDetail({ onSetAlias });
    await act(async () => {
      fireEvent.change(
        screen.getByRole('combobox', { name: 'Version of alias champion' }),
        { target: { value: '1' } }
      );
    });
    expect(screen.getByRole('alert').textContent).toBe(
      'Version 9 of model churn was not found.'
    );
  });

  it('deploys a version and links to the MLflow UI when one is configured', () => {
    const { onDeploy } = renderDetail({ mlflowUiUrl: 'http://mlflow:5000/' });
    fireEvent.click(
      screen.getByRole('button', { name: 'Deploy version 2 of churn' })
    );
    expect(onDeploy).toHaveBeenCalledWith(
      expect.objectContaining({ version: '2' })
    );
    const links = screen
      .getAllByRole('link', { name: 'Open in MLflow' })
      .map(a => a.getAttribute('href'));
    expect(links).toContain('http://mlflow:5000/#/models/churn');
    expect(links).toContain('http://mlflow:5000/#/models/churn/versions/2');
  });

  it('has no MLflow link without an MLflow UI', () => {
    renderDetail();
    expect(screen.queryByRole('link')).toBeNull();
    expect(mlflowModelUrl(null, 'churn')).toBeNull();
    expect(mlflowModelUrl('http://m/', 'a b', '3')).toBe(
      'http://m/#/models/a%20b/versions/3'
    );
  });
});

describe('ModelDetailWidget', () => {
  it('reads the model from the server, and again after an alias move', async () => {
    const client = new FakeClient();
    client.models = [detailed()];
    const model = new MLOpsModel({ client });
    const widget = new ModelDetailWidget({
      name: 'churn',
      model,
      onDeploy: jest.fn(),
      trans
    });
    await act(() => widget.reload());
    expect(widget.detail?.description).toBe('Predicts churn.');
    const before = client.getModel.mock.calls.length;

    client.setAlias.mockImplementation(async (name, alias, version) => {
      client.models = [
        registeredModel('churn', [
          modelVersion('churn', '2'),
          modelVersion('churn', '1', { aliases: [alias] })
        ])
      ];
      return modelVersion(name, version, { aliases: [alias] });
    });
    await act(() => model.setAlias('churn', 'champion', '1'));
    await act(() => widget.reload());
    expect(client.getModel.mock.calls.length).toBeGreaterThan(before);
    expect(widget.detail?.aliases).toEqual({ champion: '1' });
    widget.dispose();
    model.dispose();
  });

  it('shows why a model cannot be read', async () => {
    const client = new FakeClient();
    const model = new MLOpsModel({ client });
    const widget = new ModelDetailWidget({
      name: 'gone',
      model,
      onDeploy: jest.fn(),
      trans
    });
    await act(() => widget.reload());
    expect(widget.detail).toBeNull();
    widget.dispose();
    model.dispose();
  });
});
