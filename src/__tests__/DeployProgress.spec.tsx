import { render, screen } from '@testing-library/react';
import React from 'react';
import { DeployProgress } from '../components/DeployProgress';
import { deployment, steps, trans } from './fixtures';

function shownSteps(container: HTMLElement): Array<[string, string]> {
  return Array.from(container.querySelectorAll('[data-step]')).map(li => [
    li.getAttribute('data-step')!,
    li.getAttribute('data-status')!
  ]);
}

describe('DeployProgress', () => {
  it("shows the deployment's steps in order with their status", () => {
    const { container } = render(
      <DeployProgress
        deployment={deployment('churn', {
          state: 'loading',
          steps: steps(
            ['resolving', 'done'],
            ['loading', 'running'],
            ['warming', 'pending'],
            ['ready', 'pending']
          )
        })}
        trans={trans}
      />
    );

    expect(shownSteps(container)).toEqual([
      ['resolving', 'done'],
      ['loading', 'running'],
      ['warming', 'pending'],
      ['ready', 'pending']
    ]);
    expect(
      screen.getByLabelText('Loading the model: in progress')
    ).toBeTruthy();
    // The running step spins.
    const loading = container.querySelector('[data-step="loading"]')!;
    expect(loading.querySelector('.jp-MLOps-spinner')).not.toBeNull();
  });

  it('shows the message of the step that failed', () => {
    const { container } = render(
      <DeployProgress
        deployment={deployment('churn', {
          state: 'failed',
          message: 'Deployment failed while loading.',
          steps: steps(
            ['resolving', 'done'],
            ['loading', 'failed', "No module named 'xgboost'"],
            ['warming', 'pending'],
            ['ready', 'pending']
          )
        })}
        trans={trans}
      />
    );

    const failed = container.querySelector('[data-step="loading"]')!;
    expect(failed.classList).toContain('jp-MLOps-step-failed');
    expect(failed.textContent).toContain("No module named 'xgboost'");
  });

  it("shows the deployment's message when no step carries one", () => {
    render(
      <DeployProgress
        deployment={deployment('churn', {
          state: 'failed',
          message: 'The serving daemon is not running.',
          steps: []
        })}
        trans={trans}
      />
    );
    expect(screen.getByRole('alert').textContent).toBe(
      'The serving daemon is not running.'
    );
  });

  it('infers the steps from the state when the server sent none', () => {
    const { container } = render(
      <DeployProgress
        deployment={deployment('churn', { state: 'warming', steps: [] })}
        trans={trans}
      />
    );
    expect(shownSteps(container)).toEqual([
      ['resolving', 'done'],
      ['loading', 'done'],
      ['warming', 'running'],
      ['ready', 'pending']
    ]);
  });
});
