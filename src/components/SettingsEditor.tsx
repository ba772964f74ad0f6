import { TranslationBundle } from '@jupyterlab/translation';
import React, { useEffect, useState } from 'react';
import { DeploymentSettings, SettingsChange } from '../api';

export namespace SettingsEditor {
  export interface IProps {
    deploymentName: string;
    /** Read the current settings (GET .../settings). */
    onLoad: () => Promise<DeploymentSettings>;
    /** Send a change (PATCH .../settings); rejects with the server's message. */
    onApply: (change: SettingsChange) => Promise<DeploymentSettings>;
    /** Show a failure as a toast that stays (absent: shown only in the editor). */
    onError?: (message: string, reason: unknown) => void;
    trans: TranslationBundle;
  }
}

/** A form value by field path (`max_rows`, `auto_rollback.window`, ...). */
export type SettingsForm = Record<string, string>;

type Kind = 'int' | 'number' | 'bool' | 'choice';

interface IFieldSpec {
  path: string;
  kind: Kind;
  min?: number;
  max?: number;
  /** The minimum itself is not allowed. */
  exclusiveMin?: boolean;
  /** Blank means "the server's default" (not sent). */
  optional?: boolean;
  choices?: string[];
}

const NUMERIC_STATISTICS = ['auto', 'ks', 'wasserstein', 'psi'];
const CATEGORICAL_STATISTICS = ['chisquare', 'jensenshannon', 'psi'];

/** The fields of the editor with the bounds of api/openapi.yaml. */
export const SETTINGS_FIELDS: IFieldSpec[] = [
  { path: 'timeout_ms', kind: 'int', min: 1, max: 600000 },
  { path: 'max_queue', kind: 'int', min: 1, max: 100000 },
  { path: 'max_rows', kind: 'int', min: 1 },
  { path: 'auto_rollback.enabled', kind: 'bool' },
  { path: 'auto_rollback.window', kind: 'int', min: 10, max: 10000 },
  { path: 'auto_rollback.min_requests', kind: 'int', min: 1, max: 10000 },
  { path: 'auto_rollback.error_rate_margin', kind: 'number', min: 0, max: 1 },
  { path: 'auto_rollback.p95_margin_ms', kind: 'number', min: 0 },
  {
    path: 'monitoring.numeric_statistic',
    kind: 'choice',
    choices: NUMERIC_STATISTICS
  },
  {
    path: 'monitoring.categorical_statistic',
    kind: 'choice',
    choices: CATEGORICAL_STATISTICS
  },
  {
    path: 'monitoring.drift_share',
    kind: 'number',
    min: 0,
    max: 1,
    exclusiveMin: true
  },
  {
    path: 'monitoring.correction',
    kind: 'choice',
    choices: ['bonferroni', 'none']
  }
];

const THRESHOLD_PREFIX = 'monitoring.thresholds.';

/**
 * The statistics whose threshold the editor shows: the two chosen ones
 * ("auto" is KS) and any the deployment already has a threshold for.
 */
export function thresholdStatistics(form: SettingsForm): string[] {
  const numeric = form['monitoring.numeric_statistic'];
  const chosen = [
    numeric === 'auto' || !numeric ? 'ks' : numeric,
    form['monitoring.categorical_statistic'] || 'chisquare'
  ];
  const existing = Object.keys(form)
    .filter(k => k.startsWith(THRESHOLD_PREFIX))
    .map(k => k.slice(THRESHOLD_PREFIX.length));
  return [...new Set([...chosen, ...existing])];
}

/** The form values of settings read from the server. */
export function formOf(settings: DeploymentSettings): SettingsForm {
  const form: SettingsForm = {};
  const text = (value: unknown) =>
    value === undefined || value === null ? '' : String(value);
  form['timeout_ms'] = text(settings.timeout_ms);
  form['max_queue'] = text(settings.max_queue);
  form['max_rows'] = text(settings.max_rows);
  const rollback = settings.auto_rollback ?? {};
  for (const key of [
    'enabled',
    'window',
    'min_requests',
    'error_rate_margin',
    'p95_margin_ms'
  ] as const) {
    if (rollback[key] !== undefined) {
      form[`auto_rollback.${key}`] = text(rollback[key]);
    }
  }
  const monitoring = settings.monitoring ?? {};
  for (const key of [
    'numeric_statistic',
    'categorical_statistic',
    'drift_share',
    'correction'
  ] as const) {
    if (monitoring[key] !== undefined) {
      form[`monitoring.${key}`] = text(monitoring[key]);
    }
  }
  for (const [statistic, value] of Object.entries(
    monitoring.thresholds ?? {}
  )) {
    form[THRESHOLD_PREFIX + statistic] = text(value);
  }
  return form;
}

function specOf(path: string): IFieldSpec | undefined {
  if (path.startsWith(THRESHOLD_PREFIX)) {
    return { path, kind: 'number', min: 0, exclusiveMin: true, optional: true };
  }
  return SETTINGS_FIELDS.find(f => f.path === path);
}

/**
 * Why each field's value cannot be sent, by field path (empty when all can).
 */
export function validateSettings(
  form: SettingsForm,
  trans: TranslationBundle
): Record<string, string> {
  const problems: Record<string, string> = {};
  for (const [path, raw] of Object.entries(form)) {
    const spec = specOf(path);
    if (!spec || spec.kind === 'bool' || spec.kind === 'choice') {
      continue;
    }
    const value = raw.trim();
    if (value === '') {
      if (!spec.optional) {
        problems[path] = trans.__('Give a value.');
      }
      continue;
    }
    const n = Number(value);
    if (!Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) {
      problems[path] =
        spec.kind === 'int'
          ? trans.__('Give a whole number.')
          : trans.__('Give a number.');
    } else if (
      spec.min !== undefined &&
      (spec.exclusiveMin ? n <= spec.min : n < spec.min)
    ) {
      problems[path] = spec.exclusiveMin
        ? trans.__('Must be more than %1.', spec.min)
        : trans.__('Must be at least %1.', spec.min);
    } else if (spec.max !== undefined && n > spec.max) {
      problems[path] = trans.__('Must be at most %1.', spec.max);
    }
  }
  return problems;
}

/**
 * The PATCH body: only what differs from the settings as loaded. A changed
 * threshold sends the deployment's whole set of thresholds (blank removes
 * one), so the others are kept whether the server merges or replaces them.
 */
export function settingsChange(
  before: SettingsForm,
  after: SettingsForm
): SettingsChange {
  const change: Record<string, unknown> = {};
  const value = (path: string, raw: string): unknown => {
    const spec = specOf(path);
    if (spec?.kind === 'bool') {
      return raw === 'true';
    }
    if (spec?.kind === 'choice') {
      return raw;
    }
    return Number(raw.trim());
  };
  let thresholdsChanged = false;
  for (const [path, raw] of Object.entries(after)) {
    if ((before[path] ?? '') === raw) {
      continue;
    }
    if (path.startsWith(THRESHOLD_PREFIX)) {
      thresholdsChanged = true;
      continue;
    }
    const [head, tail] = path.split('.', 2);
    if (tail === undefined) {
      change[head] = value(path, raw);
    } else {
      const group = (change[head] ?? {}) as Record<string, unknown>;
      group[tail] = value(path, raw);
      change[head] = group;
    }
  }
  if (thresholdsChanged) {
    const thresholds: Record<string, number> = {};
    for (const [path, raw] of Object.entries(after)) {
      if (path.startsWith(THRESHOLD_PREFIX) && raw.trim() !== '') {
        thresholds[path.slice(THRESHOLD_PREFIX.length)] = Number(raw.trim());
      }
    }
    const monitoring = (change.monitoring ?? {}) as Record<string, unknown>;
    monitoring.thresholds = thresholds;
    change.monitoring = monitoring;
  }
  return change as SettingsChange;
}

/**
 * The field a server message names (`max_rows`, `monitoring.drift_share`,
 * ...), the most specific first; null when it names none the editor shows.
 */
export function fieldOfMessage(
  message: string,
  paths: string[]
): string | null {
  const names = [...paths].sort((a, b) => b.length - a.length);
  for (const path of names) {
    if (new RegExp(`(^|[^\\w.])${escape(path)}\\b`).test(message)) {
      return path;
    }
  }
  // A message naming only the leaf ("drift_share must be ...").
  for (const path of names) {
    const leaf = path.slice(path.lastIndexOf('.') + 1);
    if (leaf !== path && new RegExp(`\\b${escape(leaf)}\\b`).test(message)) {
      return path;
    }
  }
  return null;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A deployment's settings, read from the server when opened: serving limits,
 * automatic rollback and drift monitoring. Apply sends only what changed,
 * shows a server refusal next to the field it names, and confirms success.
 */
export function SettingsEditor(
  props: SettingsEditor.IProps
): React.ReactElement {
  const { trans } = props;
  const [loaded, setLoaded] = useState<SettingsForm | null>(null);
  const [form, setForm] = useState<SettingsForm>({});
  const [loadError, setLoadError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [serverError, setServerError] = useState<{
    field: string | null;
    message: string;
  } | null>(null);
  const [applied, setApplied] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    props.onLoad().then(
      settings => {
        if (live) {
          const values = formOf(settings);
          setLoaded(values);
          setForm(values);
        }
      },
      reason => {
        if (live) {
          setLoadError(
            reason instanceof Error ? reason.message : String(reason)
          );
        }
      }
    );
    return () => {
      live = false;
    };
  }, [props.deploymentName]);

  if (loadError) {
    return (
      <p className="jp-MLOps-message jp-MLOps-error" role="alert">
        {trans.__('Could not read the settings: %1', loadError)}
      </p>
    );
  }
  if (!loaded) {
    return <p className="jp-MLOps-help">{trans.__('Loading settings…')}</p>;
  }

  const problems = validateSettings(form, trans);
  const change = settingsChange(loaded, form);
  const changed = Object.keys(change).length > 0;
  const valid = Object.keys(problems).length === 0;

  const set = (path: string, value: string) => {
    setApplied(null);
    setForm({ ...form, [path]: value });
  };

  const apply = async () => {
    setBusy(true);
    setServerError(null);
    setApplied(null);
    try {
      const after = formOf(await props.onApply(change));
      setLoaded(after);
      setForm(after);
      setApplied(
        trans.__(
          'Settings applied: %1',
          Object.keys(change)
            .map(k =>
              typeof (change as Record<string, unknown>)[k] === 'object'
                ? k
                : `${k} ${String((change as Record<string, unknown>)[k])}`
            )
            .join(', ')
        )
      );
    } catch (reason) {
      const message = reason instanceof Error ? reason.message : String(reason);
      setServerError({
        field: fieldOfMessage(message, Object.keys(form)),
        message
      });
      props.onError?.(
        trans.__(
          'Settings of %1 not applied: %2',
          props.deploymentName,
          message
        ),
        reason
      );
    } finally {
      setBusy(false);
    }
  };

  const label: Record<string, string> = {
    timeout_ms: trans.__('Timeout (ms)'),
    max_queue: trans.__('Max queue'),
    max_rows: trans.__('Max rows'),
    'auto_rollback.enabled': trans.__('Automatic rollback'),
    'auto_rollback.window': trans.__('Window (requests)'),
    'auto_rollback.min_requests': trans.__('Min requests'),
    'auto_rollback.error_rate_margin': trans.__('Error rate margin'),
    'auto_rollback.p95_margin_ms': trans.__('p95 margin (ms)'),
    'monitoring.numeric_statistic': trans.__('Numeric statistic'),
    'monitoring.categorical_statistic': trans.__('Categorical statistic'),
    'monitoring.drift_share': trans.__('Drift share'),
    'monitoring.correction': trans.__('Correction')
  };

  const field = (path: string) => {
    const threshold = path.startsWith(THRESHOLD_PREFIX);
    if (!(path in form) && !threshold) {
      return null; // The server does not expose it for this deployment.
    }
    const current = form[path] ?? ''; // A threshold not set: the default.
    const spec = specOf(path);
    const text =
      label[path] ??
      trans.__('Threshold (%1)', path.slice(THRESHOLD_PREFIX.length));
    const problem =
      problems[path] ??
      (serverError?.field === path ? serverError.message : undefined);
    const id = `jp-MLOps-setting-${props.deploymentName}-${path}`;
    let input: React.ReactElement;
    if (spec?.kind === 'bool') {
      input = (
        <input
          id={id}
          type="checkbox"
          checked={current === 'true'}
          disabled={busy}
          onChange={e => set(path, String(e.target.checked))}
        />
      );
    } else if (spec?.kind === 'choice') {
      input = (
        <select
          id={id}
          className="jp-mod-styled"
          value={current}
          disabled={busy}
          onChange={e => set(path, e.target.value)}
        >
          {spec.choices!.map(c => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      );
    } else {
      input = (
        <input
          id={id}
          className="jp-mod-styled"
          type="text"
          inputMode="decimal"
          value={current}
          placeholder={spec?.optional ? trans.__('default') : undefined}
          disabled={busy}
          aria-invalid={problem ? 'true' : 'false'}
          aria-describedby={problem ? `${id}-problem` : undefined}
          onChange={e => set(path, e.target.value)}
        />
      );
    }
    return (
      <div className="jp-MLOps-setting" key={path} data-setting={path}>
        <label htmlFor={id}>{text}</label>
        {input}
        {problem && (
          <span
            id={`${id}-problem`}
            className="jp-MLOps-help jp-MLOps-error"
            data-problem={path}
          >
            {problem}
          </span>
        )}
      </div>
    );
  };

  const rollbackOn = form['auto_rollback.enabled'] === 'true';
  const thresholds = thresholdStatistics(form).map(s => THRESHOLD_PREFIX + s);

  return (
    <form
      className="jp-MLOps-settings"
      aria-label={trans.__('Settings of %1', props.deploymentName)}
      onSubmit={e => {
        e.preventDefault();
        if (changed && valid && !busy) {
          void apply();
        }
      }}
    >
      <fieldset>
        <legend>{trans.__('Serving limits')}</legend>
        {['timeout_ms', 'max_queue', 'max_rows'].map(field)}
      </fieldset>
      <fieldset>
        <legend>{trans.__('Automatic rollback')}</legend>
        {field('auto_rollback.enabled')}
        {rollbackOn &&
          [
            'auto_rollback.window',
            'auto_rollback.min_requests',
            'auto_rollback.error_rate_margin',
            'auto_rollback.p95_margin_ms'
          ].map(field)}
      </fieldset>
      <fieldset>
        <legend>{trans.__('Drift monitoring')}</legend>
        {[
          'monitoring.numeric_statistic',
          'monitoring.categorical_statistic'
        ].map(field)}
        {thresholds.map(field)}
        {['monitoring.drift_share', 'monitoring.correction'].map(field)}
      </fieldset>
      <div className="jp-MLOps-row">
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-small"
          disabled={!changed || !valid || busy}
          title={
            !changed
              ? trans.__('Change a setting first')
              : !valid
                ? trans.__('Fix the fields marked in red')
                : trans.__('Send the changed settings to the deployment')
          }
        >
          {busy ? trans.__('Applying…') : trans.__('Apply')}
        </button>
      </div>
      {applied && (
        <p className="jp-MLOps-help jp-MLOps-success" role="status">
          {applied}
        </p>
      )}
      {serverError && !serverError.field && (
        <p className="jp-MLOps-message jp-MLOps-error" role="alert">
          {serverError.message}
        </p>
      )}
    </form>
  );
}
