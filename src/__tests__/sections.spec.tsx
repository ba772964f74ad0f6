import { act, fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { REGISTER_EXAMPLE } from '../components/EmptyState';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';
import { DeploymentsView, ModelsView, SEARCH_DELAY } from '../widgets/sections';
import {
  deployment,
  FakeClient,
  modelVersion,
  registeredModel,
  trans
} from './fixtures';

describe('sidebar sections', () => {
  let client: FakeClient;
  let model: MLOpsModel;

  beforeEach(() => {
    client = new FakeClient();
    model = new MLOpsModel({ client });
  });

  afterEach(() => {
    model.dispose();
  });

  function renderSections() {
    return render(
      <>
        <ModelsView model={model} onDeploy={jest.fn()} trans={trans} />
        <DeploymentsView
          model={model}
          onStop={jest.fn()}
          onCopyUrl={jest.fn()}
          trans={trans}
        />
      </>
    );
  }

  it('is one labelled region per section', () => {
    renderSections();
    expect(screen.getByRole('region', { name: 'Models' })).toBeTruthy();
    expect(screen.getByRole('region', { name: 'Deployments' })).toBeTruthy();
  });

  it('says what to do next when there are no models and no deployments', async () => {
    renderSections();
    expect(screen.getAllByText('Loading…')).toHaveLength(2);

    await act(() => model.refresh());

    expect(screen.getByText('No models yet.')).toBeTruthy();
    expect(screen.getByText(REGISTER_EXAMPLE)).toBeTruthy();
    expect(screen.getByText('No deployments yet.')).toBeTruthy();
    expect(
      screen.getByText(/Press Deploy next to a model version/)
    ).toBeTruthy();
  });

  it('lists what the server has after a refresh', async () => {
    client.models = [registeredModel('churn', [modelVersion('churn', '1')])];
    client.deployments = [deployment('churn')];
    const { container } = renderSections();

    await act(() => model.refresh());

    expect(container.querySelector('[data-model-name="churn"]')).not.toBeNull();
    expect(
      container.querySelector(
        '[data-deployment-name="churn"][data-state="ready"]'
      )
    ).not.toBeNull();
    expect(screen.queryByText('No models yet.')).toBeNull();
  });

  it("shows the server's error with a retry button that refreshes", async () => {
    client.failWith = new MLOpsRequestError(
      503,
      'MLflow tracking server is down'
    );
    renderSections();
    await act(() => model.refresh());

    expect(screen.getByText('MLflow tracking server is down')).toBeTruthy();
    expect(screen.queryByText('No models yet.')).toBeNull();

    client.failWith = null;
    client.models = [registeredModel('churn', [modelVersion('churn', '1')])];
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
      await model.refresh();
    });

    expect(screen.queryByText('MLflow tracking server is down')).toBeNull();
    expect(screen.getByText('churn')).toBeTruthy();
  });

  it('explains a 404 as a missing server extension', async () => {
    client.failWith = new MLOpsRequestError(404, 'Not Found');
    renderSections();
    await act(() => model.refresh());

    expect(screen.getByRole('alert').textContent).toContain(
      'jupyter server extension enable jupyter_mlops'
    );
  });

  it('searches the catalog on the server after typing stops', async () => {
    client.models = Array.from({ length: 8 }, (_, i) =>
      registeredModel(`model-${i}`, [modelVersion(`model-${i}`, '1')])
    );
    const { container } = renderSections();
    await act(() => model.refresh());
    const names = () =>
      Array.from(container.querySelectorAll('[data-model-name]')).map(r =>
        r.getAttribute('data-model-name')
      );
    expect(names()).toHaveLength(8);

    const box = screen.getByRole('searchbox', { name: 'Search models' });
    fireEvent.change(box, { target: { value: 'MODEL-3' } });
    expect(client.listModels).not.toHaveBeenLastCalledWith(
      expect.objectContaining({ filter: 'MODEL-3' })
    );
    await act(() => new Promise(r => setTimeout(r, SEARCH_DELAY + 50)));
    expect(client.listModels).toHaveBeenLastCalledWith(
      expect.objectContaining({ filter: 'MODEL-3' })
    );
    expect(names()).toEqual(['model-3']);

    fireEvent.change(box, { target: { value: 'nothing' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    await act(() => new Promise(r => setTimeout(r, 20)));
    expect(screen.getByText('No model name contains "nothing".')).toBeTruthy();
  });

  it('loads the next page of a large catalog on demand', async () => {
    client.models = Array.from({ length: 70 }, (_, i) =>
      registeredModel(`m-${String(i).padStart(2, '0')}`, [])
    );
    const { container } = renderSections();
    await act(() => model.refresh());
    expect(container.querySelectorAll('[data-model-name]')).toHaveLength(50);

    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Load more models' }));
      await new Promise(r => setTimeout(r, 20));
    });
    expect(container.querySelectorAll('[data-model-name]')).toHaveLength(70);
    expect(screen.queryByRole('button', { name: 'Load more models' })).toBe(
      null
    );
  });
});
