import { alertText, formatTime } from '../utils';
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { FeatureDrift, MonitoringReport, OpsPoint, RolloutEvent } from '../api';
import {
  DataQualityRow,
  EstimatedPerformancePoint,
  EstimationStatus,
  MultivariateDriftPoint
} from '../generated/models';
import { HealthDot } from './DeploymentList';
import { SeriesChart } from './Chart';

/** The windows offered, as the server spells them. */
export const WINDOWS = ['15m', '1h', '6h', '24h', '7d'];

/**
 * Ops points summed over variants per time bucket: the deployment as its
 * callers see it.
 */
export function opsByTime(ops: OpsPoint[]): {
  labels: string[];
  requests: number[];
  errors: number[];
  p50: Array<number | null>;
  p95: Array<number | null>;
  p99: Array<number | null>;
} {
  const times = Array.from(new Set(ops.map(p => p.time))).sort();
  const pick = (time: string) => ops.filter(p => p.time === time);
  const worst = (points: OpsPoint[], key: 'p50_ms' | 'p95_ms' | 'p99_ms') => {
    const values = points
      .map(p => p[key])
      .filter((v): v is number => typeof v === 'number');
    return values.length ? Math.max(...values) : null;
  };
  return {
    labels: times.map(t => new Date(t).toLocaleTimeString()),
    requests: times.map(t => pick(t).reduce((a, p) => a + p.requests, 0)),
    errors: times.map(t => pick(t).reduce((a, p) => a + p.errors, 0)),
    p50: times.map(t => worst(pick(t), 'p50_ms')),
    p95: times.map(t => worst(pick(t), 'p95_ms')),
    p99: times.map(t => worst(pick(t), 'p99_ms'))
  };
}

/**
 * The report with issue #16's sections: performance estimated without labels,
 * multivariate drift and data quality (absent from older servers).
 */
export type EstimatingReport = MonitoringReport & {
  estimated_performance?: EstimatedPerformancePoint[] | null;
  estimation?: EstimationStatus | null;
  multivariate_drift?: MultivariateDriftPoint[] | null;
  data_quality?: DataQualityRow[] | null;
};

/**
 * The server's reason why estimates are unavailable, without its own
 * "Estimates are unavailable:" lead (the tab's line already says so).
 */
export function unavailableReason(reason: string | null | undefined): string {
  return (reason ?? '').replace(
    /^\s*estimates?\s+(are\s+|is\s+)?unavailable\s*:\s*/i,
    ''
  );
}

/** One metric's estimate, band and realized value per time bucket. */
export interface IEstimateSeries {
  metric: string;
  labels: string[];
  estimate: Array<number | null>;
  lower: Array<number | null>;
  upper: Array<number | null>;
  realized: Array<number | null>;
  /** Whether any bucket has a realized value (from feedback). */
  hasRealized: boolean;
}

/**
 * Estimated performance points grouped per metric, in time order, with the
 * band and the realized values aligned on the same buckets: one chart each.
 */
export function estimatesByMetric(
  points: EstimatedPerformancePoint[]
): IEstimateSeries[] {
  const metrics = Array.from(new Set(points.map(p => p.metric)));
  return metrics.map(metric => {
    const mine = points
      .filter(p => p.metric === metric)
      .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    const num = (v: number | null | undefined) =>
      typeof v === 'number' ? v : null;
    const realized = mine.map(p => num(p.realized));
    return {
      metric,
      labels: mine.map(p => new Date(p.time).toLocaleTimeString()),
      estimate: mine.map(p => num(p.estimate)),
      lower: mine.map(p => num(p.lower)),
      upper: mine.map(p => num(p.upper)),
      realized,
      hasRealized: realized.some(v => v !== null)
    };
  });
}

/** The multivariate drift line, its band and the drifted buckets. */
export interface IMultivariateSeries {
  labels: string[];
  error: number[];
  lower: number[];
  upper: number[];
  drifted: boolean[];
  driftedCount: number;
}

/** Multivariate drift points in time order, shaped for one line chart. */
export function multivariateSeries(
  points: MultivariateDriftPoint[]
): IMultivariateSeries {
  const sorted = [...points].sort((a, b) =>
    a.time < b.time ? -1 : a.time > b.time ? 1 : 0
  );
  return {
    labels: sorted.map(p => new Date(p.time).toLocaleTimeString()),
    error: sorted.map(p => p.reconstruction_error),
    lower: sorted.map(p => p.lower),
    upper: sorted.map(p => p.upper),
    drifted: sorted.map(p => p.drifted),
    driftedCount: sorted.filter(p => p.drifted).length
  };
}

/** The kinds of data-quality problem, as the report names their counts. */
export const QUALITY_KINDS = [
  'missing',
  'out_of_range',
  'unseen_category',
  'type_mismatch'
] as const;
export type QualityKind = (typeof QUALITY_KINDS)[number];

/** A rate at or above which a quality problem shows red (below: amber). */
export const QUALITY_RED_RATE = 0.05;

/** One feature's data quality over the window. */
export interface IQualityFlag {
  feature: string;
  rows: number;
  counts: Record<QualityKind, number>;
  rates: Record<QualityKind, number>;
  /** green: no problem; amber: some; red: a rate at or above QUALITY_RED_RATE. */
  status: 'green' | 'amber' | 'red';
}

/**
 * Data-quality rows summed per feature over the window's buckets, rates
 * recomputed from the sums; flagged features first (worst first), then by name.
 */
export function qualityFlags(rows: DataQualityRow[]): IQualityFlag[] {
  const byFeature = new Map<string, IQualityFlag>();
  for (const r of rows) {
    let flag = byFeature.get(r.feature);
    if (!flag) {
      flag = {
        feature: r.feature,
        rows: 0,
        counts: {
          missing: 0,
          out_of_range: 0,
          unseen_category: 0,
          type_mismatch: 0
        },
        rates: {
          missing: 0,
          out_of_range: 0,
          unseen_category: 0,
          type_mismatch: 0
        },
        status: 'green'
      };
      byFeature.set(r.feature, flag);
    }
    flag.rows += r.rows;
    for (const kind of QUALITY_KINDS) {
      flag.counts[kind] += r[kind];
    }
  }
  const rank = { red: 0, amber: 1, green: 2 };
  const flags = Array.from(byFeature.values());
  for (const flag of flags) {
    for (const kind of QUALITY_KINDS) {
      flag.rates[kind] = flag.rows ? flag.counts[kind] / flag.rows : 0;
    }
    const worst = Math.max(...QUALITY_KINDS.map(k => flag.rates[k]));
    const any = QUALITY_KINDS.some(k => flag.counts[k] > 0);
    flag.status = !any ? 'green' : worst >= QUALITY_RED_RATE ? 'red' : 'amber';
  }
  return flags.sort(
    (a, b) =>
      rank[a.status] - rank[b.status] || a.feature.localeCompare(b.feature)
  );
}

export namespace MonitoringView {
  export interface IProps {
    report: EstimatingReport;
    events: RolloutEvent[];
    window: string;
    onWindow: (window: string) => void;
    /** Open the deployment's lineage, audit history and model card. */
    onGovernance?: () => void;
    themeKey?: string;
    trans: TranslationBundle;
  }
}

/**
 * A deployment's monitoring: health, traffic and latency charts, drift per
 * feature, alerts, and its rollout history.
 */
export function MonitoringView(
  props: MonitoringView.IProps
): React.ReactElement {
  const { report, trans } = props;
  const ops = opsByTime(report.ops);
  const summary = report.summary ?? {};
  const firing = report.alerts.filter(a => a.state === 'firing');
  return (
    <div className="jp-MLOps-detail" data-deployment-name={report.deployment}>
      <header className="jp-MLOps-detail-header">
        <HealthDot health={report.health} trans={trans} />
        <h1 className="jp-MLOps-detail-title">{report.deployment}</h1>
        <label className="jp-MLOps-inline-label">
          {trans.__('Window')}
          <select
            className="jp-mod-styled"
            aria-label={trans.__('Monitoring window')}
            value={props.window}
            onChange={e => props.onWindow(e.target.value)}
          >
            {WINDOWS.map(w => (
              <option key={w} value={w}>
                {w}
              </option>
            ))}
          </select>
        </label>
        {props.onGovernance && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-MLOps-small"
            onClick={props.onGovernance}
          >
            {trans.__('Lineage, audit and model card')}
          </button>
        )}
      </header>
      <p className="jp-MLOps-description">
        {trans.__(
          'Health %1 · %2 requests · error rate %3 · p95 %4 · dropped records %5',
          report.health.score === null || report.health.score === undefined
            ? '-'
            : String(Math.round(report.health.score)),
          String(summary.requests ?? 0),
          formatPercent(summary.error_rate),
          summary.p95_ms === null || summary.p95_ms === undefined
            ? '-'
            : `${summary.p95_ms.toFixed(1)} ms`,
          String(report.dropped_records)
        )}
      </p>
      {firing.length > 0 && (
        <ul className="jp-MLOps-alerts" aria-label={trans.__('Firing alerts')}>
          {firing.map(a => (
            <li
              key={String(a.id)}
              className="jp-MLOps-message jp-MLOps-alert-firing"
            >
              {alertText({
                ...a,
                deployment: a.deployment ?? report.deployment
              })}
            </li>
          ))}
        </ul>
      )}
      <h2 className="jp-MLOps-detail-heading">{trans.__('Traffic')}</h2>
      {ops.labels.length === 0 ? (
        <p className="jp-MLOps-description">
          {trans.__(
            'No requests in this window. Call the endpoint (e.g. jupyter_mlops.predict) and refresh.'
          )}
        </p>
      ) : (
        <div className="jp-MLOps-charts">
          <SeriesChart
            kind="bar"
            label={trans.__('Requests and errors over time')}
            labels={ops.labels}
            series={[
              { label: trans.__('requests'), values: ops.requests },
              { label: trans.__('errors'), values: ops.errors }
            ]}
            themeKey={props.themeKey}
          />
          <SeriesChart
            kind="line"
            label={trans.__('Latency percentiles over time')}
            labels={ops.labels}
            yTitle={trans.__('ms')}
            series={[
              { label: trans.__('p50'), values: ops.p50 },
              { label: trans.__('p95'), values: ops.p95 },
              { label: trans.__('p99'), values: ops.p99 }
            ]}
            themeKey={props.themeKey}
          />
        </div>
      )}
      <ByVariant ops={report.ops} trans={trans} />
      <Performance report={report} trans={trans} />
      <EstimatedPerformance
        report={report}
        themeKey={props.themeKey}
        trans={trans}
      />
      <MultivariateDrift
        report={report}
        themeKey={props.themeKey}
        trans={trans}
      />
      <DataQuality report={report} trans={trans} />
      <Drift report={report} themeKey={props.themeKey} trans={trans} />
      <h2 className="jp-MLOps-detail-heading">{trans.__('History')}</h2>
      <Events events={props.events} trans={trans} />
    </div>
  );
}

/** One variant's traffic over the window. */
export interface IVariantOps {
  variant: string;
  requests: number;
  errors: number;
  errorRate: number | null;
  p95: number | null;
}

/**
 * Ops points summed per variant: during a canary, the comparison the user
 * opened the tab for.
 */
export function opsByVariant(ops: OpsPoint[]): IVariantOps[] {
  const names = Array.from(
    new Set(ops.map(p => p.variant).filter((v): v is string => !!v))
  );
  return names.map(variant => {
    const points = ops.filter(p => p.variant === variant);
    const requests = points.reduce((a, p) => a + p.requests, 0);
    const errors = points.reduce((a, p) => a + p.errors, 0);
    const p95s = points
      .map(p => p.p95_ms)
      .filter((v): v is number => typeof v === 'number');
    return {
      variant,
      requests,
      errors,
      errorRate: requests ? errors / requests : null,
      p95: p95s.length ? Math.max(...p95s) : null
    };
  });
}

function ByVariant(props: {
  ops: OpsPoint[];
  trans: TranslationBundle;
}): React.ReactElement | null {
  const { trans } = props;
  const rows = opsByVariant(props.ops);
  if (rows.length < 2) {
    return null;
  }
  return (
    <>
      <h2 className="jp-MLOps-detail-heading">{trans.__('By variant')}</h2>
      <table className="jp-MLOps-table" aria-label={trans.__('By variant')}>
        <thead>
          <tr>
            <th>{trans.__('Variant')}</th>
            <th>{trans.__('Requests')}</th>
            <th>{trans.__('Errors')}</th>
            <th>{trans.__('Error rate')}</th>
            <th>{trans.__('p95 (worst bucket)')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(r => (
            <tr key={r.variant} data-variant={r.variant}>
              <td>{r.variant}</td>
              <td>{r.requests}</td>
              <td>{r.errors}</td>
              <td>{formatPercent(r.errorRate)}</td>
              <td>{r.p95 === null ? '-' : `${r.p95.toFixed(1)} ms`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/**
 * Model quality from the labels sent as feedback: each metric's latest value,
 * shown when there are labels (nothing otherwise).
 */
function Performance(props: {
  report: MonitoringReport;
  trans: TranslationBundle;
}): React.ReactElement | null {
  const { trans } = props;
  const points = props.report.performance ?? [];
  if (points.length === 0) {
    return null;
  }
  const latest = new Map<string, { time: string; value: number }>();
  for (const p of points) {
    const seen = latest.get(p.metric);
    if (!seen || seen.time <= p.time) {
      latest.set(p.metric, { time: p.time, value: p.value });
    }
  }
  return (
    <>
      <h2 className="jp-MLOps-detail-heading">{trans.__('Performance')}</h2>
      <table className="jp-MLOps-table" aria-label={trans.__('Performance')}>
        <thead>
          <tr>
            <th>{trans.__('Metric')}</th>
            <th>{trans.__('Value')}</th>
            <th>{trans.__('As of')}</th>
          </tr>
        </thead>
        <tbody>
          {Array.from(latest.entries()).map(([metric, m]) => (
            <tr key={metric} data-metric={metric}>
              <td>{metric}</td>
              <td>{formatNumber(m.value)}</td>
              <td>{formatTime(m.time)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/**
 * Performance estimated without labels: per metric, the estimate with its band
 * (dashed) and the realized value where labels came back; or why it is
 * unavailable.
 */
function EstimatedPerformance(props: {
  report: EstimatingReport;
  themeKey?: string;
  trans: TranslationBundle;
}): React.ReactElement | null {
  const { report, trans } = props;
  const [chosen, setChosen] = React.useState<string | null>(null);
  const estimation = report.estimation;
  if (!estimation) {
    return null; // an older server: nothing to say
  }
  const series = estimatesByMetric(report.estimated_performance ?? []);
  // The metric the user picked, else the first (accuracy or MAE, as the server orders them).
  const shown = series.find(s => s.metric === chosen) ?? series[0];
  return (
    <section
      className="jp-MLOps-estimates"
      aria-label={trans.__('Estimated performance')}
    >
      <h2 className="jp-MLOps-detail-heading">
        {trans.__('Estimated performance')}
      </h2>
      {!estimation.available ? (
        <p className="jp-MLOps-description" data-estimation="unavailable">
          {trans.__(
            'Estimated performance unavailable: %1',
            unavailableReason(estimation.reason) || trans.__('no reason given')
          )}
        </p>
      ) : (
        <>
          <p className="jp-MLOps-description" data-estimation="available">
            {trans.__(
              'Estimated without labels by %1 from %2 rows; the dashed lines bound its 95 percent band, the realized value shows where labels came back.',
              estimation.method ?? '-',
              String(estimation.rows ?? 0)
            )}
          </p>
          {!shown ? (
            <p className="jp-MLOps-description">
              {trans.__('No scored rows in this window yet.')}
            </p>
          ) : (
            <>
              {series.length > 1 && (
                <label className="jp-MLOps-inline-label">
                  {trans.__('Metric')}
                  <select
                    className="jp-mod-styled"
                    aria-label={trans.__('Estimated metric')}
                    value={shown.metric}
                    onChange={e => setChosen(e.target.value)}
                  >
                    {series.map(s => (
                      <option key={s.metric} value={s.metric}>
                        {s.metric}
                      </option>
                    ))}
                  </select>
                </label>
              )}
              <div className="jp-MLOps-charts">
                <SeriesChart
                  kind="line"
                  label={trans.__('Estimated %1 over time', shown.metric)}
                  labels={shown.labels}
                  beginAtZero={false}
                  series={[
                    {
                      label: trans.__('estimated %1', shown.metric),
                      values: shown.estimate,
                      colour: 0
                    },
                    {
                      label: trans.__('lower (95%)'),
                      values: shown.lower,
                      colour: 0,
                      dashed: true
                    },
                    {
                      label: trans.__('upper (95%)'),
                      values: shown.upper,
                      colour: 0,
                      dashed: true
                    },
                    ...(shown.hasRealized
                      ? [
                          {
                            label: trans.__('realized %1', shown.metric),
                            values: shown.realized,
                            colour: 3
                          }
                        ]
                      : [])
                  ]}
                  themeKey={props.themeKey}
                />
              </div>
            </>
          )}
          <table
            className="jp-MLOps-table"
            aria-label={trans.__('Estimated performance over the window')}
          >
            <thead>
              <tr>
                <th>{trans.__('Metric')}</th>
                <th>{trans.__('Estimate')}</th>
                <th>{trans.__('Band')}</th>
                <th>{trans.__('Realized')}</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(estimation.summary ?? {}).map(([metric, v]) => (
                <tr key={metric} data-metric={metric}>
                  <td>{metric}</td>
                  <td>{formatNumber(v.estimate)}</td>
                  <td>
                    {formatNumber(v.lower)} – {formatNumber(v.upper)}
                  </td>
                  <td>{formatNumber(v.realized)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/**
 * Multivariate drift: the PCA reconstruction error per bucket against the
 * reference's band (dashed), drifted buckets marked.
 */
function MultivariateDrift(props: {
  report: EstimatingReport;
  themeKey?: string;
  trans: TranslationBundle;
}): React.ReactElement | null {
  const { trans } = props;
  const points = props.report.multivariate_drift ?? [];
  if (points.length === 0) {
    return null;
  }
  const s = multivariateSeries(points);
  return (
    <section
      className="jp-MLOps-multivariate"
      aria-label={trans.__('Multivariate drift')}
    >
      <h2 className="jp-MLOps-detail-heading">
        {trans.__('Multivariate drift')}
      </h2>
      <p
        className={
          s.driftedCount
            ? 'jp-MLOps-description jp-MLOps-error'
            : 'jp-MLOps-description'
        }
        data-drifted-buckets={s.driftedCount}
      >
        {trans.__(
          'PCA reconstruction error against the reference band: %1 of %2 buckets drifted.',
          s.driftedCount,
          s.labels.length
        )}
      </p>
      <div className="jp-MLOps-charts">
        <SeriesChart
          kind="line"
          label={trans.__('Multivariate drift over time')}
          labels={s.labels}
          beginAtZero={false}
          series={[
            {
              label: trans.__('reconstruction error'),
              values: s.error,
              colour: 0,
              marks: s.drifted
            },
            {
              label: trans.__('threshold (upper)'),
              values: s.upper,
              colour: 2,
              dashed: true
            },
            {
              label: trans.__('lower'),
              values: s.lower,
              colour: 1,
              dashed: true
            }
          ]}
          themeKey={props.themeKey}
        />
      </div>
    </section>
  );
}

/** Data quality per feature: problem rates with a status colour each. */
function DataQuality(props: {
  report: EstimatingReport;
  trans: TranslationBundle;
}): React.ReactElement | null {
  const { trans } = props;
  const flags = qualityFlags(props.report.data_quality ?? []);
  if (flags.length === 0) {
    return null;
  }
  const flagged = flags.filter(f => f.status !== 'green');
  const cell = (f: IQualityFlag, kind: QualityKind) => (
    <td
      className={f.counts[kind] ? 'jp-MLOps-error' : undefined}
      title={trans.__('%1 of %2 rows', f.counts[kind], f.rows)}
    >
      {f.counts[kind] ? formatPercent(f.rates[kind]) : '-'}
    </td>
  );
  return (
    <>
      <h2 className="jp-MLOps-detail-heading">{trans.__('Data quality')}</h2>
      <p className="jp-MLOps-description">
        {flagged.length
          ? trans.__(
              '%1 of %2 features have quality problems.',
              flagged.length,
              flags.length
            )
          : trans.__('No quality problems in %1 features.', flags.length)}
      </p>
      <table className="jp-MLOps-table" aria-label={trans.__('Data quality')}>
        <thead>
          <tr>
            <th>{trans.__('Status')}</th>
            <th>{trans.__('Feature')}</th>
            <th>{trans.__('Rows')}</th>
            <th>{trans.__('Missing')}</th>
            <th>{trans.__('Out of range')}</th>
            <th>{trans.__('Unseen category')}</th>
            <th>{trans.__('Type mismatch')}</th>
          </tr>
        </thead>
        <tbody>
          {flags.map(f => (
            <tr key={f.feature} data-feature={f.feature} data-status={f.status}>
              <td>
                <span
                  className={`jp-MLOps-health jp-MLOps-health-${f.status}`}
                  role="img"
                  aria-label={trans.__('Quality %1', f.status)}
                  title={trans.__('Quality %1', f.status)}
                />
              </td>
              <td>{f.feature}</td>
              <td>{f.rows}</td>
              {cell(f, 'missing')}
              {cell(f, 'out_of_range')}
              {cell(f, 'unseen_category')}
              {cell(f, 'type_mismatch')}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Drift(props: {
  report: MonitoringReport;
  themeKey?: string;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  const drift = props.report.drift;
  const features = drift?.features ?? [];
  const drifted = features.filter(f => f.drifted);
  return (
    <>
      <h2 className="jp-MLOps-detail-heading">{trans.__('Drift')}</h2>
      {drift?.message && (
        <p className="jp-MLOps-description">{drift.message}</p>
      )}
      {features.length === 0 ? (
        !drift?.message && (
          <p className="jp-MLOps-description">
            {trans.__(
              'No drift measured yet: it needs a baseline (the training data at registration) and logged requests.'
            )}
          </p>
        )
      ) : (
        <>
          <p className="jp-MLOps-description">
            {trans.__(
              '%1 of %2 features drifted (share %3).',
              drifted.length,
              features.length,
              formatPercent(drift?.share)
            )}
          </p>
          <table className="jp-MLOps-table" aria-label={trans.__('Drift')}>
            <thead>
              <tr>
                <th>{trans.__('Feature')}</th>
                <th>{trans.__('Statistic')}</th>
                <th>{trans.__('Value')}</th>
                <th>{trans.__('Threshold')}</th>
                <th>{trans.__('Drifted')}</th>
              </tr>
            </thead>
            <tbody>
              {features.map(f => (
                <tr key={f.feature} data-drifted={f.drifted}>
                  <td>{f.feature}</td>
                  <td>{f.statistic}</td>
                  <td>{formatNumber(f.value)}</td>
                  <td>{formatNumber(f.threshold)}</td>
                  <td className={f.drifted ? 'jp-MLOps-error' : undefined}>
                    {f.drifted ? trans.__('yes') : trans.__('no')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="jp-MLOps-charts">
            {(drifted.length ? drifted : features).slice(0, 4).map(f => (
              <FeatureHistogram
                key={f.feature}
                feature={f}
                themeKey={props.themeKey}
                trans={trans}
              />
            ))}
          </div>
        </>
      )}
    </>
  );
}

/** Baseline vs live distribution of one feature, as shares per bin. */
function FeatureHistogram(props: {
  feature: FeatureDrift;
  themeKey?: string;
  trans: TranslationBundle;
}): React.ReactElement | null {
  const { feature: f, trans } = props;
  if (!f.baseline || !f.live) {
    return null;
  }
  const shares = (counts: number[]): number[] => {
    const total = counts.reduce((a, b) => a + b, 0) || 1;
    return counts.map(c => c / total);
  };
  const labels = f.baseline.bins
    .slice(0, f.baseline.counts.length)
    .map(b => (typeof b === 'number' ? formatNumber(b) : String(b)));
  return (
    <SeriesChart
      kind="bar"
      label={trans.__('Distribution of %1: baseline and live', f.feature)}
      labels={labels}
      series={[
        { label: trans.__('baseline'), values: shares(f.baseline.counts) },
        {
          label: trans.__('live: %1', f.feature),
          values: shares(f.live.counts)
        }
      ]}
      themeKey={props.themeKey}
    />
  );
}

function Events(props: {
  events: RolloutEvent[];
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  if (props.events.length === 0) {
    return (
      <p className="jp-MLOps-description">
        {trans.__('No rollout events yet.')}
      </p>
    );
  }
  return (
    <ol className="jp-MLOps-events" aria-label={trans.__('Rollout history')}>
      {[...props.events].reverse().map((e, i) => (
        <li key={i} className="jp-MLOps-event" data-kind={e.kind}>
          <span className="jp-MLOps-meta" title={formatTime(e.time)}>
            {formatTime(e.time)}
          </span>{' '}
          <span className="jp-MLOps-alias">{e.kind}</span> {e.message}
          {e.actor && <span className="jp-MLOps-meta"> · {e.actor}</span>}
        </li>
      ))}
    </ol>
  );
}

function formatPercent(value: number | null | undefined): string {
  return typeof value === 'number' ? `${(value * 100).toFixed(1)}%` : '-';
}

function formatNumber(value: number | null | undefined): string {
  if (typeof value !== 'number') {
    return '-';
  }
  return Number.isInteger(value) ? String(value) : value.toPrecision(3);
}
