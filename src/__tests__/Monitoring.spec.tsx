import { Widget } from '@lumino/widgets';
import { act, render, screen, fireEvent } from '@testing-library/react';
import React from 'react';
import { MonitoringReport } from '../api';
import { chartConfig, themeColours } from '../components/Chart';
import {
  MonitoringView,
  opsByTime,
  opsByVariant
} from '../components/Monitoring';
import { MLOpsModel } from '../model';
import { MLOpsRequestError } from '../request';
import { failureTitle } from '../widgets/loaded';
import { MonitoringWidget } from '../widgets/monitoring';
import { FakeClient, trans } from './fixtures';

const report = (extra: Partial<MonitoringReport> = {}): MonitoringReport => ({
  deployment: 'churn',
  window: '1h',
  summary: { requests: 30, error_rate: 0.1, p95_ms: 12.5 },
  ops: [
    {
      time: '2026-01-01T10:00:00Z',
      variant: 'primary',
      requests: 10,
      errors: 1,
      error_rate: 0.1,
      p50_ms: 3,
      p95_ms: 9,
      p99_ms: 12
    },
    {
      time: '2026-01-01T10:00:00Z',
      variant: 'canary',
      requests: 5,
      errors: 2,
      error_rate: 0.4,
      p50_ms: 4,
      p95_ms: 11,
      p99_ms: 20
    },
    {
      time: '2026-01-01T10:01:00Z',
      variant: 'primary',
      requests: 15,
      errors: 0,
      error_rate: 0,
      p50_ms: 2,
      p95_ms: null,
      p99_ms: null
    }
  ],
  drift: {
    share: 0.5,
    drifted: true,
    features: [
      {
        feature: 'tenure',
        statistic: 'psi',
        value: 0.31,
        threshold: 0.2,
        drifted: true,
        baseline: { bins: [0, 1, 2], counts: [5, 5] },
        live: { bins: [0, 1, 2], counts: [1, 9] }
      },
      {
        feature: 'plan',
        statistic: 'chi2',
        value: 0.01,
        threshold: 0.05,
        drifted: false
      }
    ]
  },
  performance: [],
  health: { score: 61, colour: 'amber' },
  alerts: [
    { id: 1, rule: 'drift', state: 'firing', message: 'tenure drifted' },
    { id: 2, rule: 'p95', state: 'resolved', message: 'old' }
  ],
  dropped_records: 0,
  ...extra
});

describe('Monitoring', () => {
  it('sums variants per time bucket and keeps the worst latency', () => {
    const ops = opsByTime(report().ops);
    expect(ops.requests).toEqual([15, 15]);
    expect(ops.errors).toEqual([3, 0]);
    expect(ops.p95).toEqual([11, null]);
    expect(ops.p99).toEqual([20, null]);
  });

  it('shows health, firing alerts, drift per feature and the history', () => {
    const onWindow = jest.fn();
    render(
      <MonitoringView
        report={report()}
        events={[
          {
            time: '2026-01-01T09:00:00Z',
            kind: 'deploy',
            message: 'deployed churn/3'
          },
          {
            time: '2026-01-01T09:30:00Z',
            kind: 'canary',
            message: 'canary churn/4 at 20%',
            actor: 'alice'
          }
        ]}
        window="1h"
        onWindow={onWindow}
        trans={trans}
      />
    );
    expect(screen.getByRole('img', { name: 'Health 61 (amber)' })).toBeTruthy();
    expect(
      screen.getByText(/30 requests · error rate 10.0% · p95 12.5 ms/)
    ).toBeTruthy();
    const alerts = screen.getByRole('list', { name: 'Firing alerts' });
    expect(alerts.textContent).toBe('tenure drifted');
    expect(
      screen.getByText('1 of 2 features drifted (share 50.0%).')
    ).toBeTruthy();
    const rows = screen
      .getByRole('table', { name: 'Drift' })
      .querySelectorAll('tbody tr');
    expect(rows[0].getAttribute('data-drifted')).toBe('true');
    expect(
      screen.getByRole('img', { name: 'Latency percentiles over time' })
    ).toBeTruthy();
    expect(
      screen.getByRole('img', {
        name: 'Distribution of tenure: baseline and live'
      })
    ).toBeTruthy();
    const history = screen.getByRole('list', { name: 'Rollout history' });
    // Newest first.
    expect(history.querySelectorAll('li')[0].getAttribute('data-kind')).toBe(
      'canary'
    );
    expect(history.textContent).toContain('alice');

    fireEvent.change(
      screen.getByRole('combobox', { name: 'Monitoring window' }),
      {
        target: { value: '24h' }
      }
    );
    expect(onWindow).toHaveBeenCalledWith('24h');
  });

  it('says what to do when there is no traffic or drift yet', () => {
    render(
      <MonitoringView
        report={report({ ops: [], drift: null, alerts: [] })}
        events={[]}
        window="1h"
        onWindow={jest.fn()}
        trans={trans}
      />
    );
    expect(screen.getByText(/No requests in this window/)).toBeTruthy();
    expect(screen.getByText(/No drift measured yet/)).toBeTruthy();
    expect(screen.getByText('No rollout events yet.')).toBeTruthy();
  });

  it('draws charts in the theme colours', () => {
    document.body.style.setProperty('--jp-ui-font-color1', 'rgb(1, 2, 3)');
    document.body.style.setProperty('--jp-brand-color1', 'rgb(4, 5, 6)');
    const colours = themeColours(document.body);
    const config = chartConfig(
      'line',
      ['a'],
      [{ label: trans.__('p50'), values: [1] }],
      colours
    );
    expect(config.data.datasets[0].borderColor).toBe('rgb(4, 5, 6)');
    const x = config.options?.scales?.x as { ticks: { color: string } };
    expect(x.ticks.color).toBe('rgb(1, 2, 3)');
  });
});

describe('Monitoring by variant and performance', () => {
  it('splits traffic by variant during a canary', () => {
    expect(opsByVariant(report().ops)).toEqual([
      { variant: 'primary', requests: 25, errors: 1, errorRate: 0.04, p95: 9 },
      { variant: 'canary', requests: 5, errors: 2, errorRate: 0.4, p95: 11 }
    ]);
    render(
      <MonitoringView
        report={report()}
        events={[]}
        window="1h"
        onWindow={jest.fn()}
        trans={trans}
      />
    );
    const rows = screen
      .getByRole('table', { name: 'By variant' })
      .querySelectorAll('tbody tr');
    expect(Array.from(rows).map(r => r.textContent)).toEqual([
      'primary2514.0%9.0 ms',
      'canary5240.0%11.0 ms'
    ]);
    // No labels yet: no performance section.
    expect(screen.queryByRole('table', { name: 'Performance' })).toBeNull();
  });

  it('shows the performance section when labels exist', () => {
    render(
      <MonitoringView
        report={report({
          ops: report().ops.filter(p => p.variant === 'primary'),
          performance: [
            { time: '2026-01-01T10:00:00Z', metric: 'accuracy', value: 0.8 },
            { time: '2026-01-01T10:05:00Z', metric: 'accuracy', value: 0.92 },
            { time: '2026-01-01T10:05:00Z', metric: 'roc_auc', value: 0.951 }
          ]
        })}
        events={[]}
        window="1h"
        onWindow={jest.fn()}
        trans={trans}
      />
    );
    // One variant only: no split table.
    expect(screen.queryByRole('table', { name: 'By variant' })).toBeNull();
    const rows = screen
      .getByRole('table', { name: 'Performance' })
      .querySelectorAll('tbody tr');
    expect(rows[0].getAttribute('data-metric')).toBe('accuracy');
    expect(rows[0].textContent).toContain('0.920');
    expect(rows[1].textContent).toContain('0.951');
  });
});

describe('a monitoring tab that went stale', () => {
  it('names the real cause and reads again when shown again', async () => {
    const client = new FakeClient();
    const model = new MLOpsModel({ client });
    const widget = new MonitoringWidget({ name: 'churn', model, trans });
    Widget.attach(widget, document.body);
    await act(() => widget.reload());
    // The deployment was stopped (404): say so, do not blame the server.
    expect(widget.node.textContent).toContain(
      'Not found: it may have been stopped or renamed.'
    );
    expect(widget.node.textContent).not.toContain(
      'Cannot load from the MLOps server'
    );

    client.report = report();
    const read = new Promise<void>(resolve => {
      const look = () => (widget.report ? resolve() : setTimeout(look, 5));
      look();
    });
    widget.hide();
    widget.show();
    await act(() => read);
    expect(widget.report?.deployment).toBe('churn');
    widget.dispose();
    model.dispose();
  });

  it('tells an unreachable server from a failing one', () => {
    expect(failureTitle(new MLOpsRequestError(0, 'net'), trans)).toBe(
      'Cannot reach the Jupyter server.'
    );
    expect(failureTitle(new MLOpsRequestError(500, 'boom'), trans)).toBe(
      'The MLOps server failed to answer.'
    );
  });
});

describe('the way to governance', () => {
  it('offers lineage, audit and the card from the monitoring tab', () => {
    const onGovernance = jest.fn();
    render(
      <MonitoringView
        report={report()}
        events={[]}
        window="1h"
        onWindow={jest.fn()}
        onGovernance={onGovernance}
        trans={trans}
      />
    );
    fireEvent.click(
      screen.getByRole('button', { name: 'Lineage, audit and model card' })
    );
    expect(onGovernance).toHaveBeenCalled();
  });
});
