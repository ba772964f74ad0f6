import { Notification } from '@jupyterlab/apputils';
import {
  acceptDialog,
  dismissDialog,
  waitForDialog
} from '@jupyterlab/testutils';
import { act, fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { DeploymentList } from '../components/DeploymentList';
import {
  rebalance,
  splitProblem,
  TrafficEditor,
  weightsOf
} from '../components/TrafficEditor';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';
import {
  promoteWithConfirmation,
  rollbackWithConfirmation
} from '../widgets/dialogs';
import { deployment, FakeClient, trans } from './fixtures';
import { Variant } from '../api';

const split = (canary = 20): Variant[] => [
  {
    name: 'primary',
    model_name: 'churn',
    model_version: '3',
    weight: 100 - canary,
    role: 'primary'
  },
  {
    name: 'canary',
    model_name: 'churn',
    model_version: '4',
    weight: canary,
    role: 'canary'
  },
  {
    name: 'shadow',
    model_name: 'churn',
    model_version: '5',
    weight: 0,
    role: 'shadow'
  }
];

describe('TrafficEditor', () => {
  it('edits the split of serving variants; shadows take no share', async () => {
    const onApply = jest.fn(async () => undefined);
    render(
      <TrafficEditor
        deploymentName="churn"
        variants={split()}
        onApply={onApply}
        trans={trans}
      />
    );
    expect(weightsOf(split())).toEqual({ primary: 80, canary: 20 });
    expect(
      screen.queryByRole('spinbutton', { name: 'Traffic share of shadow (%)' })
    ).toBeNull();
    expect(screen.queryByRole('button', { name: 'Apply split' })).toBeNull();

    fireEvent.change(
      screen.getByRole('spinbutton', { name: 'Traffic share of canary (%)' }),
      { target: { value: '30' } }
    );
    // The primary follows as you type: the split stays at 100%.
    expect(
      (
        screen.getByRole('spinbutton', {
          name: 'Traffic share of primary (%)'
        }) as HTMLInputElement
      ).value
    ).toBe('70');
    expect(screen.getByText('Total 100%')).toBeTruthy();

    // A share no other can absorb: Apply is disabled and says why.
    fireEvent.change(
      screen.getByRole('spinbutton', { name: 'Traffic share of canary (%)' }),
      { target: { value: '130' } }
    );
    const apply = screen.getByRole('button', {
      name: 'Apply split'
    }) as HTMLButtonElement;
    expect(apply.disabled).toBe(true);
    expect(apply.title).toBe(
      'Each share must be a whole number from 0 to 100.'
    );
    expect(
      screen.getByText('Each share must be a whole number from 0 to 100.')
    ).toBeTruthy();

    // The slider moves both shares of a two-variant split.
    fireEvent.change(
      screen.getByRole('slider', { name: 'Share of canary (%)' }),
      {
        target: { value: '50' }
      }
    );
    expect(screen.getByText('Total 100%')).toBeTruthy();
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Apply split' }));
    });
    expect(onApply).toHaveBeenCalledWith({ primary: 50, canary: 50 });
    // Success is confirmed in place.
    expect(screen.getByRole('status').textContent).toBe(
      'Applied: primary 50% · canary 50%'
    );
  });

  it('rebalances three serving variants through the primary', () => {
    const three: Variant[] = [
      { ...split()[0], weight: 60 },
      { ...split()[1], weight: 20 },
      { ...split()[1], name: 'canary-b', model_version: '6', weight: 20 }
    ];
    expect(rebalance(three, weightsOf(three), 'canary', 35)).toEqual({
      primary: 45,
      canary: 35,
      'canary-b': 20
    });
    expect(rebalance(three, weightsOf(three), 'primary', 90)).toEqual({
      primary: 90,
      canary: 20, // 100 - 90 - 20 < 0: nothing absorbs it, Apply says why
      'canary-b': 20
    });
    expect(
      splitProblem({ primary: 90, canary: 20, 'canary-b': 20 }, trans)
    ).toBe('The shares must add up to 100% (now 130%).');
  });

  it("shows the server's refusal in place", async () => {
    const onApply = jest.fn(async () => {
      throw new MLOpsRequestError(409, 'A rollout of churn is in progress.');
    });
    render(
      <TrafficEditor
        deploymentName="churn"
        variants={split()}
        onApply={onApply}
        trans={trans}
      />
    );
    fireEvent.change(
      screen.getByRole('slider', { name: 'Share of canary (%)' }),
      { target: { value: '40' } }
    );
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Apply split' }));
    });
    expect(screen.getByRole('alert').textContent).toBe(
      'A rollout of churn is in progress.'
    );
  });
});

describe('DeploymentList rollouts and health', () => {
  it('colours each deployment by its health and offers promote and rollback', () => {
    const onPromote = jest.fn();
    const onRollback = jest.fn();
    const { container } = render(
      <DeploymentList
        deployments={[
          deployment('churn', { variants: split() }),
          deployment('fraud')
        ]}
        onStop={jest.fn()}
        onCopyUrl={jest.fn()}
        onSetTraffic={jest.fn()}
        onPromote={onPromote}
        onRollback={onRollback}
        health={name =>
          name === 'churn'
            ? { score: 42, colour: 'red' }
            : { score: 97, colour: 'green' }
        }
        trans={trans}
      />
    );
    expect(
      container
        .querySelector('[data-deployment-name="churn"] .jp-MLOps-health')!
        .getAttribute('data-health')
    ).toBe('red');
    expect(screen.getByRole('img', { name: 'Health 97 (green)' })).toBeTruthy();

    fireEvent.click(
      screen.getByRole('button', { name: 'Promote the canary of churn' })
    );
    expect(onPromote).toHaveBeenCalledWith(
      expect.objectContaining({ name: 'churn' })
    );
    // Nothing staged on fraud: Promote is disabled, saying why; the rollback
    // to the previous primary stays (the server has the last word).
    const promoteFraud = screen.getByRole('button', {
      name: 'Promote the canary of fraud'
    }) as HTMLButtonElement;
    expect(promoteFraud.disabled).toBe(true);
    expect(promoteFraud.title).toMatch(/Nothing to promote/);
    fireEvent.click(screen.getByRole('button', { name: 'Roll back fraud' }));
    expect(onRollback).toHaveBeenCalledWith(
      expect.objectContaining({ name: 'fraud' })
    );
  });
});

const reactGlobals = globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean };

describe('MLOpsModel rollouts, health and alerts', () => {
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

  beforeEach(async () => {
    client = new FakeClient();
    client.deployments = [deployment('churn', { variants: split() })];
    model = new MLOpsModel({ client, fastInterval: 10 });
    await model.refresh();
  });

  afterEach(async () => {
    model.dispose();
    jest.restoreAllMocks();
    while (document.querySelector('.jp-Dialog')) {
      await dismissDialog();
    }
  });

  it('sets the traffic split and shows the new weights', async () => {
    await model.setTraffic('churn', { primary: 50, canary: 50 });
    expect(client.setTraffic).toHaveBeenCalledWith('churn', {
      primary: 50,
      canary: 50
    });
    expect(model.deployments[0].variants.map(v => v.weight)).toEqual([
      50, 50, 0
    ]);
    await expect(model.setTraffic('churn', { primary: 90 })).rejects.toThrow(
      'Traffic weights must add up to 100 (got 90).'
    );
  });

  it('promotes and rolls back only after confirmation', async () => {
    const done = promoteWithConfirmation(model, model.deployments[0], trans);
    await waitForDialog();
    expect(document.querySelector('.jp-Dialog')!.textContent).toContain(
      'Version 4 of churn takes all the traffic'
    );
    await acceptDialog();
    await expect(done).resolves.toBe(true);
    expect(model.deployments[0].variants.map(v => v.model_version)).toEqual([
      '4'
    ]);

    const cancelled = rollbackWithConfirmation(
      model,
      model.deployments[0],
      trans
    );
    await dismissDialog();
    await expect(cancelled).resolves.toBe(false);
    expect(client.rollback).not.toHaveBeenCalled();

    const rolled = rollbackWithConfirmation(model, model.deployments[0], trans);
    await waitForDialog();
    (document.querySelector('.jp-Dialog .jp-mod-warn') as HTMLElement).click();
    await expect(rolled).resolves.toBe(true);
    expect(client.rollback).toHaveBeenCalledWith('churn');
  });

  it('reports a refused promotion as a notification', async () => {
    client.promote.mockRejectedValueOnce(
      new MLOpsRequestError(409, 'churn has no canary to promote.')
    );
    const error = jest.spyOn(Notification, 'error');
    const done = promoteWithConfirmation(model, model.deployments[0], trans);
    await acceptDialog();
    await expect(done).resolves.toBe(false);
    expect(error.mock.calls[0][0]).toContain('churn has no canary to promote.');
  });

  it('reads health per deployment and signals each newly fired alert once', async () => {
    client.healthOf = { churn: { score: 55, colour: 'amber' } };
    client.alerts = [
      { id: 1, rule: 'error_rate', state: 'firing', message: 'old news' }
    ];
    model.dispose();
    model = new MLOpsModel({ client });
    const fired = jest.fn();
    model.alertFired.connect((_, alert) => fired(alert.message));
    await model.refresh(); // first look: alerts already there are not news
    expect(model.health('churn')).toEqual(
      expect.objectContaining({ colour: 'amber' })
    );
    expect(fired).not.toHaveBeenCalled();

    client.alerts = [
      {
        id: 2,
        rule: 'p95',
        state: 'firing',
        message: 'p95 latency 300 ms > 200 ms',
        deployment: 'churn'
      },
      { id: 3, rule: 'drift', state: 'resolved', message: 'resolved' },
      ...client.alerts
    ];
    await model.refresh();
    await model.refresh();
    expect(fired.mock.calls).toEqual([['p95 latency 300 ms > 200 ms']]);
  });

  it('keeps the lists when the server has no monitoring', async () => {
    client.getHealth.mockRejectedValue(new MLOpsRequestError(404, 'no'));
    client.listAlerts.mockRejectedValue(new MLOpsRequestError(404, 'no'));
    await model.refresh();
    expect(model.error).toBeNull();
    expect(model.deployments.map(d => d.name)).toEqual(['churn']);
  });
});
