import { fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { chartConfig } from '../components/Chart';
import {
  EstimatingReport,
  MonitoringView,
  estimatesByMetric,
  multivariateSeries,
  qualityFlags,
  unavailableReason
} from '../components/Monitoring';
import { DataQualityRow } from '../generated/models';
import { trans } from './fixtures';

const T1 = '2026-01-01T10:00:00Z';
const T2 = '2026-01-01T10:05:00Z';

const quality = (
  time: string,
  feature: string,
  rows: number,
  counts: Partial<DataQualityRow> = {}
): DataQualityRow => ({
  time,
  feature,
  rows,
  missing: 0,
  missing_rate: 0,
  out_of_range: 0,
  out_of_range_rate: 0,
  unseen_category: 0,
  unseen_category_rate: 0,
  type_mismatch: 0,
  type_mismatch_rate: 0,
  ...counts
});

const report = (extra: Partial<EstimatingReport> = {}): EstimatingReport => ({
  deployment: 'churn',
  window: '1h',
  summary: { requests: 30, error_rate: 0, p95_ms: 5 },
  ops: [],
  drift: null,
  performance: [],
  health: { score: 90, colour: 'green' },
  alerts: [],
  dropped_records: 0,
  estimation: {
    available: true,
    method: 'CBPE',
    rows: 400,
    summary: {
      accuracy: { estimate: 0.81, lower: 0.78, upper: 0.84, realized: 0.8 }
    }
  },
  estimated_performance: [
    // Out of time order on purpose: the chart sorts.
    {
      time: T2,
      metric: 'accuracy',
      estimate: 0.79,
      lower: 0.75,
      upper: 0.83,
      realized: null
    },
    {
      time: T1,
      metric: 'accuracy',
      estimate: 0.83,
      lower: 0.8,
      upper: 0.86,
      realized: 0.82
    },
    { time: T1, metric: 'f1', estimate: 0.7, lower: null, upper: null }
  ],
  multivariate_drift: [
    {
      time: T2,
      rows: 200,
      reconstruction_error: 1.9,
      lower: 0.9,
      upper: 1.1,
      drifted: true
    },
    {
      time: T1,
      rows: 200,
      reconstruction_error: 1.0,
      lower: 0.9,
      upper: 1.1,
      drifted: false
    }
  ],
  data_quality: [
    quality(T1, 'age', 100, { out_of_range: 2 }),
    quality(T2, 'age', 100, { out_of_range: 1 }),
    quality(T1, 'amount', 100, { missing: 30 }),
    quality(T2, 'amount', 100),
    quality(T1, 'plan', 200)
  ],
  ...extra
});

describe('estimatesByMetric', () => {
  it('groups per metric in time order with the band and realized values aligned', () => {
    const [accuracy, f1] = estimatesByMetric(
      report().estimated_performance ?? []
    );
    expect(accuracy.metric).toBe('accuracy');
    expect(accuracy.estimate).toEqual([0.83, 0.79]);
    expect(accuracy.lower).toEqual([0.8, 0.75]);
    expect(accuracy.upper).toEqual([0.86, 0.83]);
    expect(accuracy.realized).toEqual([0.82, null]);
    expect(accuracy.hasRealized).toBe(true);
    expect(f1.metric).toBe('f1');
    expect(f1.lower).toEqual([null]);
    expect(f1.hasRealized).toBe(false);
  });
});

describe('unavailableReason', () => {
  it('drops the server lead that the line already says', () => {
    expect(
      unavailableReason('Estimates are unavailable: m/1 has no reference set.')
    ).toBe('m/1 has no reference set.');
    expect(unavailableReason('no scores')).toBe('no scores');
    expect(unavailableReason(undefined)).toBe('');
  });
});

describe('multivariateSeries', () => {
  it('sorts buckets and keeps which ones drifted', () => {
    const s = multivariateSeries(report().multivariate_drift ?? []);
    expect(s.error).toEqual([1.0, 1.9]);
    expect(s.upper).toEqual([1.1, 1.1]);
    expect(s.drifted).toEqual([false, true]);
    expect(s.driftedCount).toBe(1);
  });
});

describe('qualityFlags', () => {
  it('sums buckets per feature, rates from the sums, worst first', () => {
    const flags = qualityFlags(report().data_quality ?? []);
    expect(flags.map(f => [f.feature, f.status])).toEqual([
      ['amount', 'red'], // 30 of 200 missing: 15 %
      ['age', 'amber'], // 3 of 200 out of range: 1.5 %
      ['plan', 'green']
    ]);
    expect(flags[0].rows).toBe(200);
    expect(flags[0].counts.missing).toBe(30);
    expect(flags[0].rates.missing).toBeCloseTo(0.15);
    expect(flags[1].rates.out_of_range).toBeCloseTo(0.015);
  });

  it('is empty without rows', () => {
    expect(qualityFlags([])).toEqual([]);
  });
});

describe('chartConfig', () => {
  it('draws band bounds dashed and marks the chosen points', () => {
    const colours = { text: '#000', grid: '#ccc', series: ['a', 'b', 'c'] };
    const config = chartConfig(
      'line',
      ['t1', 't2'],
      [
        { label: 'error', values: [1, 2], marks: [false, true] },
        { label: 'upper', values: [1.1, 1.1], dashed: true, colour: 2 }
      ],
      colours,
      undefined,
      false
    );
    const [line, upper] = config.data.datasets as unknown as Array<
      Record<string, unknown>
    >;
    expect(line.pointRadius).toEqual([1.5, 5]);
    expect(line.pointBackgroundColor).toEqual(['a', 'c']);
    expect(line.borderDash).toBeUndefined();
    expect(upper.borderDash).toEqual([5, 4]);
    expect(upper.pointStyle).toBe('line');
    expect(upper.borderColor).toBe('c');
    const options = config.options as {
      scales: { y: { beginAtZero: boolean } };
    };
    expect(options.scales.y.beginAtZero).toBe(false);
  });
});

describe('MonitoringView estimates', () => {
  const view = (r: EstimatingReport) =>
    render(
      <MonitoringView
        report={r}
        events={[]}
        window="1h"
        onWindow={jest.fn()}
        trans={trans}
      />
    );

  it('shows the estimate charts, the multivariate line and the quality flags', () => {
    view(report());
    expect(
      screen.getByRole('img', { name: 'Estimated accuracy over time' })
    ).toBeTruthy();
    // One metric at a time: the user picks another.
    expect(
      screen.queryByRole('img', { name: 'Estimated f1 over time' })
    ).toBeNull();
    fireEvent.change(
      screen.getByRole('combobox', { name: 'Estimated metric' }),
      {
        target: { value: 'f1' }
      }
    );
    expect(
      screen.getByRole('img', { name: 'Estimated f1 over time' })
    ).toBeTruthy();
    const summary = screen.getByRole('table', {
      name: 'Estimated performance over the window'
    });
    expect(summary.textContent).toContain('0.810');
    expect(
      screen.getByRole('img', { name: 'Multivariate drift over time' })
    ).toBeTruthy();
    expect(
      screen.getByText(
        'PCA reconstruction error against the reference band: 1 of 2 buckets drifted.'
      )
    ).toBeTruthy();
    const table = screen.getByRole('table', { name: 'Data quality' });
    const amount = table.querySelector('[data-feature="amount"]');
    expect(amount?.getAttribute('data-status')).toBe('red');
    expect(amount?.textContent).toContain('15.0%');
    expect(screen.getByText('2 of 3 features have quality problems.'));
  });

  it('says why estimates are unavailable and hides absent sections', () => {
    view(
      report({
        estimation: {
          available: false,
          reason: 'no reference set: register with reference=(X_ref, y_ref)'
        },
        estimated_performance: [],
        multivariate_drift: [],
        data_quality: []
      })
    );
    expect(
      screen.getByText(
        'Estimated performance unavailable: no reference set: register with reference=(X_ref, y_ref)'
      )
    ).toBeTruthy();
    expect(screen.queryByRole('img', { name: /Estimated/ })).toBeNull();
    expect(screen.queryByText('Multivariate drift')).toBeNull();
    expect(screen.queryByRole('table', { name: 'Data quality' })).toBeNull();
  });
});
