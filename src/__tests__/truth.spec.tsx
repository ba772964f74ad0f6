/**
 * The sidebar tells the truth about what can be done and what is served
 * (issues #15 item 6 and #20): disabled actions say why, labels show every
 * variant and never an alias that points elsewhere, health without data is
 * unknown, failures stay on screen.
 */
import { Notification } from '@jupyterlab/apputils';
import {
  acceptDialog,
  dismissDialog,
  waitForDialog
} from '@jupyterlab/testutils';
import { fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { Variant } from '../api';
import {
  DeploymentList,
  honestRef,
  isHealthUnknown,
  variantSummary
} from '../components/DeploymentList';
import { NoModels } from '../components/EmptyState';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';
import {
  promoteWithConfirmation,
  rollbackWithConfirmation,
  stopWithConfirmation
} from '../widgets/dialogs';
import { deployment, FakeClient, trans } from './fixtures';

const canary: Variant[] = [
  {
    name: 'primary',
    model_name: 'cancer',
    model_version: '1',
    weight: 80,
    role: 'primary'
  },
  {
    name: 'canary',
    model_name: 'cancer',
    model_version: '2',
    weight: 20,
    role: 'canary'
  }
];

function list(props: Partial<DeploymentList.IProps>) {
  return render(
    <DeploymentList
      deployments={[]}
      onStop={jest.fn()}
      onCopyUrl={jest.fn()}
      onPromote={jest.fn()}
      onRollback={jest.fn()}
      trans={trans}
      {...props}
    />
  );
}

const button = (name: string) =>
  screen.getByRole('button', { name }) as HTMLButtonElement;

describe('impossible actions are disabled with the reason', () => {
  it('disables Promote without a canary, with the reason as tooltip', () => {
    const onPromote = jest.fn();
    list({ deployments: [deployment('fraud')], onPromote });
    const promote = button('Promote the canary of fraud');
    expect(promote.disabled).toBe(true);
    expect(promote.title).toMatch(/Nothing to promote/);
    expect(promote.parentElement!.title).toMatch(/Nothing to promote/);
    fireEvent.click(promote);
    expect(onPromote).not.toHaveBeenCalled();
  });

  it('disables Roll back when there is nothing to roll back to', () => {
    const onRollback = jest.fn();
    list({
      deployments: [deployment('fresh'), deployment('promoted')],
      onRollback,
      rollbackBlocked: d =>
        d.name === 'fresh' ? MLOpsModel.NOTHING_TO_ROLL_BACK : null
    });
    const fresh = button('Roll back fresh');
    expect(fresh.disabled).toBe(true);
    expect(fresh.title).toBe(MLOpsModel.NOTHING_TO_ROLL_BACK);
    const promoted = button('Roll back promoted');
    expect(promoted.disabled).toBe(false);
    fireEvent.click(promoted);
    expect(onRollback).toHaveBeenCalledWith(
      expect.objectContaining({ name: 'promoted' })
    );
  });

  it('keeps Roll back and Promote enabled while a canary runs', () => {
    list({
      deployments: [deployment('cancer', { variants: canary })],
      rollbackBlocked: () => MLOpsModel.NOTHING_TO_ROLL_BACK
    });
    expect(button('Roll back cancer').disabled).toBe(false);
    expect(button('Promote the canary of cancer').disabled).toBe(false);
  });

  it('knows from the rollout history whether a previous primary exists', async () => {
    const client = new FakeClient();
    client.deployments = [
      deployment('fresh', { updated_at: '1' }),
      deployment('promoted', { updated_at: '1' })
    ];
    client.listEvents.mockImplementation(async (...args: unknown[]) =>
      args[0] === 'promoted'
        ? [
            { time: 't0', kind: 'deploy', message: 'deployed' },
            { time: 't1', kind: 'canary', message: 'canary v4 at 20%' },
            { time: 't2', kind: 'promote', message: 'promoted v4' }
          ]
        : [{ time: 't0', kind: 'deploy', message: 'deployed' }]
    );
    const model = new MLOpsModel({ client });
    const checked = new Promise<void>(resolve => {
      model.changed.connect(() => {
        if (
          model.deployments.every(d => model.rollbackBlocked(d) !== undefined)
        ) {
          resolve();
        }
      });
    });
    await model.refresh();
    await checked;
    const [fresh, promoted] = model.deployments;
    expect(model.rollbackBlocked(fresh)).toBe(MLOpsModel.NOTHING_TO_ROLL_BACK);
    expect(model.rollbackBlocked(promoted)).toBeNull();
    // A canary can always be dropped, whatever the history says.
    expect(model.rollbackBlocked({ ...fresh, variants: canary })).toBeNull();
    model.dispose();
  });
});

describe('labels show the rollout as it is', () => {
  it('lists every variant with its version and weight', () => {
    expect(variantSummary(canary, '1', trans)).toBe(
      'primary v1 80% · canary v2 20%'
    );
    expect(variantSummary([canary[0]], '1', trans)).toBe('v1');
    list({ deployments: [deployment('cancer-prod', { variants: canary })] });
    expect(screen.getByText(/primary v1 80% · canary v2 20%/)).toBeTruthy();
  });

  it('never claims an alias that points at another version', () => {
    const promoted = deployment('cancer-prod', {
      model_ref: 'cancer@champion',
      model_name: 'cancer',
      model_version: '2',
      variants: [
        { ...canary[1], name: 'primary', role: 'primary', weight: 100 }
      ]
    });
    // @champion still points at v1: the label must not say it serves v2.
    expect(honestRef(promoted, () => '1')).toBeNull();
    expect(honestRef(promoted, () => '2')).toBe('cancer@champion');
    list({ deployments: [promoted], aliasVersion: () => '1' });
    expect(screen.queryByText(/champion/)).toBeNull();
  });
});

describe('health without data', () => {
  it('is unknown (grey, no score) in the new and the old shapes', () => {
    expect(isHealthUnknown({ score: null, colour: 'unknown' })).toBe(true);
    expect(
      isHealthUnknown({
        score: 100,
        colour: 'green',
        components: {
          availability: 1,
          latency: null,
          errors: null,
          drift: null,
          performance: null
        }
      })
    ).toBe(true);
    expect(isHealthUnknown({ score: 97, colour: 'green' })).toBe(false);
    const { container } = list({
      deployments: [deployment('idle')],
      health: () => ({ score: null, colour: 'unknown' })
    });
    const dot = container.querySelector('.jp-MLOps-health')!;
    expect(dot.getAttribute('data-health')).toBe('unknown');
    expect(dot.classList).toContain('jp-MLOps-health-unknown');
    expect(dot.getAttribute('aria-label')).toMatch(/^Health unknown/);
    expect(dot.getAttribute('aria-label')).not.toMatch(/\d/);
  });
});

describe('the empty state', () => {
  it('says to load the extension before registering', () => {
    render(<NoModels trans={trans} />);
    expect(screen.getByText('%load_ext jupyter_mlops')).toBeTruthy();
  });
});

/** The warn button of the dialog once it is open (Roll back, Stop). */
async function warnButton(): Promise<HTMLElement> {
  await waitForDialog();
  return document.querySelector('.jp-Dialog .jp-mod-warn') as HTMLElement;
}

describe('failures stay on screen with what would fix them', () => {
  let client: FakeClient;
  let model: MLOpsModel;

  beforeEach(async () => {
    client = new FakeClient();
    client.deployments = [deployment('churn', { variants: canary })];
    model = new MLOpsModel({ client });
    await model.refresh();
  });

  afterEach(async () => {
    model.dispose();
    jest.restoreAllMocks();
    while (document.querySelector('.jp-Dialog')) {
      await dismissDialog();
    }
  });

  it('keeps a refused rollback until dismissed, with an action', async () => {
    client.rollback.mockRejectedValueOnce(
      new MLOpsRequestError(409, 'Nothing to roll back to.')
    );
    const error = jest.spyOn(Notification, 'error');
    const openHistory = jest.fn();
    const done = rollbackWithConfirmation(model, model.deployments[0], trans, [
      { label: 'Open history', callback: openHistory }
    ]);
    (await warnButton()).click();
    await expect(done).resolves.toBe(false);
    const [message, options] = error.mock.calls[0];
    expect(message).toBe('Could not roll back churn: Nothing to roll back to.');
    expect(options?.autoClose).toBe(false);
    expect(options?.actions?.map(a => a.label)).toEqual(['Open history']);
  });

  it('keeps a refused promotion and a failed stop on screen', async () => {
    client.promote.mockRejectedValueOnce(
      new MLOpsRequestError(409, 'churn has no canary to promote.')
    );
    client.deleteDeployment.mockRejectedValueOnce(
      new MLOpsRequestError(503, 'The serving daemon is not running.')
    );
    const error = jest.spyOn(Notification, 'error');
    const promoted = promoteWithConfirmation(
      model,
      model.deployments[0],
      trans
    );
    await acceptDialog();
    await expect(promoted).resolves.toBe(false);
    const stopped = stopWithConfirmation(model, model.deployments[0], trans);
    (await warnButton()).click();
    await expect(stopped).resolves.toBe(false);
    expect(error.mock.calls.map(c => c[1]?.autoClose)).toEqual([false, false]);
    expect(error.mock.calls[1][0]).toContain(
      'The serving daemon is not running.'
    );
    expect(error.mock.calls[1][1]?.actions?.[0].label).toBe('Try again');
  });
});
