import { fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { DeploymentList } from '../components/DeploymentList';
import { deployment, steps, trans } from './fixtures';

function renderList(
  deployments: ReturnType<typeof deployment>[],
  handlers: Partial<DeploymentList.IProps> = {}
) {
  return render(
    <DeploymentList
      deployments={deployments}
      onStop={handlers.onStop ?? jest.fn()}
      onCopyUrl={handlers.onCopyUrl ?? jest.fn()}
      trans={trans}
    />
  );
}

function row(container: HTMLElement, name: string): HTMLElement {
  return container.querySelector(`[data-deployment-name="${name}"]`)!;
}

describe('DeploymentList', () => {
  it('colours each state: ready green, in progress amber with a spinner, failed red', () => {
    const { container } = renderList([
      deployment('churn', { state: 'ready' }),
      deployment('fraud', { state: 'loading', url: null }),
      deployment('broken', { state: 'failed', message: 'boom', url: null })
    ]);

    const ready = row(container, 'churn');
    expect(ready.getAttribute('data-state')).toBe('ready');
    const readyBadge = ready.querySelector('.jp-MLOps-badge')!;
    expect(readyBadge.classList).toContain('jp-MLOps-badge-ok');
    expect(readyBadge.querySelector('.jp-MLOps-spinner')).toBeNull();

    const loading = row(container, 'fraud');
    expect(loading.getAttribute('data-state')).toBe('loading');
    const busyBadge = loading.querySelector('.jp-MLOps-badge')!;
    expect(busyBadge.classList).toContain('jp-MLOps-badge-busy');
    expect(busyBadge.querySelector('.jp-MLOps-spinner')).not.toBeNull();

    const failed = row(container, 'broken');
    expect(failed.getAttribute('data-state')).toBe('failed');
    expect(failed.querySelector('.jp-MLOps-badge')!.classList).toContain(
      'jp-MLOps-badge-error'
    );
  });

  it('shows the failure message of a failed deployment', () => {
    const { container } = renderList([
      deployment('broken', {
        state: 'failed',
        message: 'Model churn/9 does not exist in the registry.',
        url: null
      })
    ]);

    const alert = screen.getByRole('alert');
    expect(alert.textContent).toBe(
      'Model churn/9 does not exist in the registry.'
    );
    expect(row(container, 'broken').contains(alert)).toBe(true);
  });

  it("falls back to the failed step's message", () => {
    renderList([
      deployment('broken', {
        state: 'failed',
        message: null,
        url: null,
        steps: steps(
          ['resolving', 'done'],
          ['loading', 'failed', 'No module named sklearn']
        )
      })
    ]);
    expect(screen.getByRole('alert').textContent).toBe(
      'No module named sklearn'
    );
  });

  it('shows the progress of a deployment that is starting', () => {
    const { container } = renderList([
      deployment('fraud', {
        state: 'warming',
        url: null,
        steps: steps(
          ['resolving', 'done'],
          ['loading', 'done'],
          ['warming', 'running'],
          ['ready', 'pending']
        )
      })
    ]);
    const shown = row(container, 'fraud').querySelectorAll('[data-step]');
    expect(Array.from(shown).map(s => s.getAttribute('data-status'))).toEqual([
      'done',
      'done',
      'running',
      'pending'
    ]);
  });

  it('copies the endpoint URL', () => {
    const onCopyUrl = jest.fn();
    const d = deployment('churn');
    renderList([d], { onCopyUrl });

    expect(screen.getByText(d.url!)).toBeTruthy();
    fireEvent.click(
      screen.getByRole('button', { name: 'Copy the endpoint URL of churn' })
    );
    expect(onCopyUrl).toHaveBeenCalledWith(d.url);
  });

  it('asks to stop the right deployment', () => {
    const onStop = jest.fn();
    renderList([deployment('churn'), deployment('fraud')], { onStop });

    fireEvent.click(
      screen.getByRole('button', { name: 'Stop deployment fraud' })
    );

    expect(onStop).toHaveBeenCalledTimes(1);
    expect(onStop.mock.calls[0][0].name).toBe('fraud');
  });

  it('shows the traffic split of a canary', () => {
    renderList([
      deployment('churn', {
        variants: [
          {
            name: 'primary',
            model_name: 'churn',
            model_version: '3',
            weight: 90,
            role: 'primary'
          },
          {
            name: 'canary',
            model_name: 'churn',
            model_version: '4',
            weight: 10,
            role: 'canary'
          }
        ]
      })
    ]);
    expect(screen.getByText('primary: v3, 90%')).toBeTruthy();
    expect(screen.getByText('canary: v4, 10%')).toBeTruthy();
  });
});

describe('DeploymentList insert code', () => {
  it('offers to insert code calling a deployment when the host can', () => {
    const onInsertCode = jest.fn();
    render(
      <DeploymentList
        deployments={[deployment('churn', { state: 'ready' })]}
        onStop={jest.fn()}
        onCopyUrl={jest.fn()}
        onInsertCode={onInsertCode}
        trans={trans}
      />
    );
    fireEvent.click(
      screen.getByRole('button', {
        name: 'Insert code calling churn into the notebook'
      })
    );
    expect(onInsertCode).toHaveBeenCalledWith(
      expect.objectContaining({ name: 'churn' })
    );
  });

  it('has no insert button without a handler', () => {
    renderList([deployment('churn')]);
    expect(screen.queryByRole('button', { name: /Insert code/ })).toBeNull();
  });
});
