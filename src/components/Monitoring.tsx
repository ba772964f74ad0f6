import { alertText, formatTime } from '../utils';
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { FeatureDrift, MonitoringReport, OpsPoint, RolloutEvent } from '../api';
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

export namespace MonitoringView {
  export interface IProps {
    report: MonitoringReport;
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
