import { act, fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { DeploymentSettings, SettingsChange } from '../api';
import {
  fieldOfMessage,
  formOf,
  settingsChange,
  SettingsEditor,
  validateSettings
} from '../components/SettingsEditor';
import { MLOpsRequestError } from '../request';
import { DeploymentList } from '../components/DeploymentList';
import { deployment, trans } from './fixtures';

const current = (): DeploymentSettings => ({
  timeout_ms: 30000,
  max_queue: 1000,
  max_rows: 10000,
  batching: { enabled: false },
  auto_rollback: {
    enabled: true,
    window: 200,
    min_requests: 50,
    error_rate_margin: 0.05,
    p95_margin_ms: 100
  },
  monitoring: {
    numeric_statistic: 'auto',
    categorical_statistic: 'chisquare',
    thresholds: { psi: 0.2 },
    drift_share: 0.2,
    correction: 'bonferroni'
  },
  isolated: false
});

async function renderEditor(
  onApply: (change: SettingsChange) => Promise<DeploymentSettings>,
  onError?: (message: string) => void
) {
  const onLoad = jest.fn(async () => current());
  render(
    <SettingsEditor
      deploymentName="churn"
      onLoad={onLoad}
      onApply={onApply}
      onError={onError}
      trans={trans}
    />
  );
  await screen.findByLabelText('Max rows');
  return onLoad;
}

describe('SettingsEditor', () => {
  it('shows the current values read from the server', async () => {
    const onLoad = await renderEditor(jest.fn());
    expect(onLoad).toHaveBeenCalledTimes(1);
    expect(screen.getByLabelText<HTMLInputElement>('Timeout (ms)').value).toBe(
      '30000'
    );
    expect(screen.getByLabelText<HTMLInputElement>('Max queue').value).toBe(
      '1000'
    );
    expect(screen.getByLabelText<HTMLInputElement>('Max rows').value).toBe(
      '10000'
    );
    expect(
      screen.getByLabelText<HTMLInputElement>('Automatic rollback').checked
    ).toBe(true);
    expect(
      screen.getByLabelText<HTMLInputElement>('Window (requests)').value
    ).toBe('200');
    expect(screen.getByLabelText<HTMLInputElement>('Drift share').value).toBe(
      '0.2'
    );
    // "auto" is judged by KS: its threshold is offered (blank: the default),
    // and a threshold the deployment already has is shown.
    expect(
      screen.getByLabelText<HTMLInputElement>('Threshold (ks)').value
    ).toBe('');
    expect(
      screen.getByLabelText<HTMLInputElement>('Threshold (psi)').value
    ).toBe('0.2');
    // Nothing changed: nothing to apply.
    expect(
      (screen.getByRole('button', { name: 'Apply' }) as HTMLButtonElement)
        .disabled
    ).toBe(true);
  });

  it('PATCHes only what changed and confirms', async () => {
    const onApply = jest.fn(async (change: SettingsChange) => ({
      ...current(),
      ...(change as Partial<DeploymentSettings>)
    }));
    await renderEditor(onApply);
    fireEvent.change(screen.getByLabelText('Max rows'), {
      target: { value: '500' }
    });
    fireEvent.change(screen.getByLabelText('Drift share'), {
      target: { value: '0.4' }
    });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    });
    expect(onApply).toHaveBeenCalledWith({
      max_rows: 500,
      monitoring: { drift_share: 0.4 }
    });
    expect(screen.getByRole('status').textContent).toContain('max_rows 500');
    // The editor now holds what the server answered: nothing left to apply.
    expect(
      (screen.getByRole('button', { name: 'Apply' }) as HTMLButtonElement)
        .disabled
    ).toBe(true);
  });

  it('turns automatic rollback off with a boolean and hides its thresholds', async () => {
    const onApply = jest.fn(async () => current());
    await renderEditor(onApply);
    fireEvent.click(screen.getByLabelText('Automatic rollback'));
    expect(screen.queryByLabelText('Window (requests)')).toBeNull();
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    });
    expect(onApply).toHaveBeenCalledWith({ auto_rollback: { enabled: false } });
  });

  it('refuses a bad value next to its field before sending anything', async () => {
    const onApply = jest.fn(async () => current());
    await renderEditor(onApply);
    const rows = screen.getByLabelText('Max rows');
    fireEvent.change(rows, { target: { value: '0' } });
    expect(rows.getAttribute('aria-invalid')).toBe('true');
    expect(
      document.querySelector('[data-problem="max_rows"]')?.textContent
    ).toBe('Must be at least 1.');
    expect(
      (screen.getByRole('button', { name: 'Apply' }) as HTMLButtonElement)
        .disabled
    ).toBe(true);
    fireEvent.change(rows, { target: { value: '2.5' } });
    expect(
      document.querySelector('[data-problem="max_rows"]')?.textContent
    ).toBe('Give a whole number.');
    expect(onApply).not.toHaveBeenCalled();
  });

  it("shows the server's 400 next to the field it names, and as a toast", async () => {
    const message =
      'monitoring.drift_share: must be greater than 0 and at most 1; give a share such as 0.3';
    const onApply = jest.fn(async () => {
      throw new MLOpsRequestError(400, message);
    });
    const onError = jest.fn();
    await renderEditor(onApply, onError);
    fireEvent.change(screen.getByLabelText('Drift share'), {
      target: { value: '1' }
    });
    fireEvent.change(screen.getByLabelText('Max rows'), {
      target: { value: '7' }
    });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    });
    expect(
      document.querySelector('[data-problem="monitoring.drift_share"]')
        ?.textContent
    ).toBe(message);
    expect(document.querySelector('[data-problem="max_rows"]')).toBeNull();
    expect(
      screen.getByLabelText('Drift share').getAttribute('aria-invalid')
    ).toBe('true');
    expect(onError).toHaveBeenCalledWith(
      expect.stringContaining(message),
      expect.any(MLOpsRequestError)
    );
    expect(screen.queryByRole('status')).toBeNull();
  });

  it('shows a message naming no field under the form', async () => {
    const onApply = jest.fn(async () => {
      throw new MLOpsRequestError(403, 'Only the owner may change churn.');
    });
    await renderEditor(onApply);
    fireEvent.change(screen.getByLabelText('Max queue'), {
      target: { value: '20' }
    });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    });
    expect(screen.getByRole('alert').textContent).toBe(
      'Only the owner may change churn.'
    );
  });

  it('says why the settings could not be read', async () => {
    render(
      <SettingsEditor
        deploymentName="gone"
        onLoad={async () => {
          throw new MLOpsRequestError(404, 'No deployment named gone.');
        }}
        onApply={jest.fn()}
        trans={trans}
      />
    );
    expect((await screen.findByRole('alert')).textContent).toContain(
      'No deployment named gone.'
    );
  });
});

describe('settings helpers', () => {
  it('sends the whole set of thresholds when one changes, blank removing one', () => {
    const before = formOf(current());
    const after = {
      ...before,
      'monitoring.thresholds.ks': '0.01',
      'monitoring.thresholds.psi': ''
    };
    expect(settingsChange(before, after)).toEqual({
      monitoring: { thresholds: { ks: 0.01 } }
    });
  });

  it('validates against the bounds of the REST contract', () => {
    const form = {
      ...formOf(current()),
      timeout_ms: '600001',
      max_queue: '',
      'monitoring.drift_share': '0',
      'auto_rollback.error_rate_margin': 'x'
    };
    expect(validateSettings(form, trans)).toEqual({
      timeout_ms: 'Must be at most 600000.',
      max_queue: 'Give a value.',
      'monitoring.drift_share': 'Must be more than 0.',
      'auto_rollback.error_rate_margin': 'Give a number.'
    });
  });

  it('finds the field a message names, the most specific first', () => {
    const paths = Object.keys(formOf(current()));
    expect(fieldOfMessage('max_rows: must be at least 1', paths)).toBe(
      'max_rows'
    );
    expect(
      fieldOfMessage('auto_rollback.window must be at least 10', paths)
    ).toBe('auto_rollback.window');
    expect(fieldOfMessage("unknown setting 'bogus'", paths)).toBeNull();
  });
});

describe('DeploymentList settings', () => {
  it('opens the editor from the deployment and reads the settings only then', async () => {
    const onLoad = jest.fn(async () => current());
    render(
      <DeploymentList
        deployments={[deployment('churn')]}
        onStop={jest.fn()}
        onCopyUrl={jest.fn()}
        onLoadSettings={onLoad}
        onApplySettings={jest.fn()}
        trans={trans}
      />
    );
    expect(onLoad).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole('button', { name: 'Settings of churn' }));
    expect(
      (await screen.findByLabelText<HTMLInputElement>('Max rows')).value
    ).toBe('10000');
    expect(onLoad).toHaveBeenCalledWith(
      expect.objectContaining({ name: 'churn' })
    );
  });

  it('offers no editor when nothing can read settings', () => {
    render(
      <DeploymentList
        deployments={[deployment('churn')]}
        onStop={jest.fn()}
        onCopyUrl={jest.fn()}
        trans={trans}
      />
    );
    expect(
      screen.queryByRole('button', { name: 'Settings of churn' })
    ).toBeNull();
  });
});
