import { Time } from '@jupyterlab/coreutils';
import { formatTime } from '../utils';
import { TranslationBundle } from '@jupyterlab/translation';
import React, { useEffect, useState } from 'react';
import {
  DEFAULT_RISK_TIERS,
  getInventory,
  InventoryEntry,
  InventoryUpdate,
  LIFECYCLE_STATUSES,
  mlflowModelUrl,
  ModelSignature,
  ModelVersion,
  RegisteredModel,
  setInventory
} from '../api';
import { useAction } from './useAction';

/**
 * Version tags written by `register` that describe where a model came from,
 * with their labels.
 */
export function lineageTags(trans: TranslationBundle): [string, string][] {
  return [
    ['mlops.notebook', trans.__('Notebook')],
    ['mlops.git.commit', trans.__('Git commit')],
    ['mlops.git.dirty', trans.__('Uncommitted changes')],
    ['mlops.python', trans.__('Python')],
    ['mlops.data.fingerprint', trans.__('Training data')],
    ['mlops.data.rows', trans.__('Training rows')],
    ['mlops.registered_by', trans.__('Registered by')]
  ];
}

/** An alias name as MLflow accepts it (letters, digits, `_` and `-`). */
const ALIAS_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export namespace ModelDetail {
  export interface IProps {
    model: RegisteredModel;
    /** Base URL of the MLflow UI, for links; none when not configured. */
    mlflowUiUrl?: string | null;
    onDeploy: (version: ModelVersion) => void;
    /** Point an alias at a version (moves it when it exists). */
    onSetAlias: (alias: string, version: string) => Promise<void>;
    onDeleteAlias: (alias: string) => Promise<void>;
    /**
     * Reads and writes the model's risk inventory (purpose, owners, tier,
     * lifecycle, review date); the "Model risk" section shows only with it.
     */
    inventory?: IInventoryClient;
    trans: TranslationBundle;
  }

  /** Where the risk inventory comes from and goes to. */
  export interface IInventoryClient {
    load: (name: string) => Promise<InventoryEntry>;
    save: (name: string, fields: InventoryUpdate) => Promise<InventoryEntry>;
  }
}

/** The risk inventory through the REST API (one stable object for React). */
export const apiInventory: ModelDetail.IInventoryClient = {
  load: name => getInventory(name),
  save: (name, fields) => setInventory(name, fields)
};

/**
 * One registered model in full: description, tags, aliases (movable),
 * versions with their run's metrics and params, signature and lineage.
 */
export function ModelDetail(props: ModelDetail.IProps): React.ReactElement {
  const { model, trans } = props;
  const link = mlflowModelUrl(props.mlflowUiUrl, model.name);
  return (
    <div className="jp-MLOps-detail" data-model-name={model.name}>
      <header className="jp-MLOps-detail-header">
        <h1 className="jp-MLOps-detail-title">{model.name}</h1>
        <MLflowLink href={link} trans={trans} />
      </header>
      <p className="jp-MLOps-description">
        {model.description || trans.__('No description.')}
      </p>
      <Tags tags={model.tags} label={trans.__('Model tags')} />
      {props.inventory && (
        <RiskInventory
          name={model.name}
          client={props.inventory}
          trans={trans}
        />
      )}
      <AliasEditor {...props} />
      <h2 className="jp-MLOps-detail-heading">
        {trans.__('Versions (%1)', model.versions.length)}
      </h2>
      {model.versions.length === 0 ? (
        <p className="jp-MLOps-description">
          {trans.__(
            'No versions registered. Register one from a notebook: %register model --name %1',
            model.name
          )}
        </p>
      ) : (
        model.versions.map((version, index) => (
          <VersionDetail
            key={version.version}
            version={version}
            open={index === 0}
            mlflowUiUrl={props.mlflowUiUrl}
            onDeploy={() => props.onDeploy(version)}
            trans={trans}
          />
        ))
      )}
    </div>
  );
}

/**
 * The aliases of a model with a version picker each, and a form for a new
 * alias. Errors from the server are shown in place.
 */
function AliasEditor(props: ModelDetail.IProps): React.ReactElement {
  const { model, trans } = props;
  const versions = model.versions.map(v => v.version);
  const { busy, error, setError, run } = useAction();
  const [newAlias, setNewAlias] = useState('');
  const [newVersion, setNewVersion] = useState(versions[0] ?? '');

  const aliases = Object.entries(model.aliases).sort(([a], [b]) =>
    a.localeCompare(b)
  );
  return (
    <section
      className="jp-MLOps-aliases-editor"
      aria-label={trans.__('Aliases')}
    >
      <h2 className="jp-MLOps-detail-heading">{trans.__('Aliases')}</h2>
      {aliases.length === 0 && (
        <p className="jp-MLOps-description">
          {trans.__(
            'No aliases. Point one (e.g. "champion") at a version to deploy by alias.'
          )}
        </p>
      )}
      <ul className="jp-MLOps-list">
        {aliases.map(([alias, version]) => (
          <li key={alias} className="jp-MLOps-row" data-alias={alias}>
            <span className="jp-MLOps-alias">@{alias}</span>
            <label className="jp-MLOps-inline-label">
              {trans.__('points at')}{' '}
              <select
                className="jp-mod-styled"
                aria-label={trans.__('Version of alias %1', alias)}
                value={version}
                disabled={busy}
                onChange={e => {
                  const target = e.target.value;
                  void run(() => props.onSetAlias(alias, target));
                }}
              >
                {versions.map(v => (
                  <option key={v} value={v}>
                    {trans.__('v%1', v)}
                  </option>
                ))}
              </select>
            </label>
            <button
              type="button"
              className="jp-Button jp-mod-styled jp-mod-reject jp-MLOps-small"
              disabled={busy}
              aria-label={trans.__('Remove alias %1', alias)}
              onClick={() => void run(() => props.onDeleteAlias(alias))}
            >
              {trans.__('Remove')}
            </button>
          </li>
        ))}
      </ul>
      {versions.length > 0 && (
        <form
          className="jp-MLOps-row jp-MLOps-alias-form"
          onSubmit={e => {
            e.preventDefault();
            const alias = newAlias.trim();
            if (!ALIAS_PATTERN.test(alias)) {
              setError(
                trans.__(
                  '"%1" is not a valid alias: use letters, digits, "_" or "-", starting with a letter.',
                  alias
                )
              );
              return;
            }
            void run(async () => {
              await props.onSetAlias(alias, newVersion);
              setNewAlias('');
            });
          }}
        >
          <input
            className="jp-mod-styled"
            name="alias"
            placeholder={trans.__('New alias, e.g. champion')}
            aria-label={trans.__('New alias')}
            value={newAlias}
            disabled={busy}
            onChange={e => setNewAlias(e.target.value)}
          />
          <select
            className="jp-mod-styled"
            aria-label={trans.__('Version of the new alias')}
            value={newVersion}
            disabled={busy}
            onChange={e => setNewVersion(e.target.value)}
          >
            {versions.map(v => (
              <option key={v} value={v}>
                {trans.__('v%1', v)}
              </option>
            ))}
          </select>
          <button
            type="submit"
            className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-small"
            disabled={busy || !newAlias.trim()}
          >
            {trans.__('Set alias')}
          </button>
        </form>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}

/** The inventory fields a user edits, in form order. */
type EditableField = keyof InventoryUpdate;
const TEXT_FIELDS: EditableField[] = [
  'purpose',
  'intended_use',
  'business_owner',
  'technical_owner'
];
const EDITABLE: EditableField[] = [
  ...TEXT_FIELDS,
  'risk_tier',
  'lifecycle_status',
  'next_review_due'
];

type Draft = Record<EditableField, string>;

function draftOf(entry: InventoryEntry): Draft {
  return Object.fromEntries(
    EDITABLE.map(key => [key, entry[key] ?? ''])
  ) as Draft;
}

/** The fields a draft changes (an emptied field is cleared: `null`). */
export function inventoryChanges(
  entry: InventoryEntry,
  draft: Draft
): InventoryUpdate {
  const changes: InventoryUpdate = {};
  for (const key of EDITABLE) {
    const value = draft[key].trim();
    if (value !== (entry[key] ?? '')) {
      changes[key] = value === '' ? null : value;
    }
  }
  return changes;
}

/** Badge colour of a risk tier: the highest is an error colour. */
function tierClass(tier: string | null | undefined): string {
  return tier === 'high'
    ? 'jp-MLOps-badge-error'
    : tier === 'medium'
      ? 'jp-MLOps-badge-busy'
      : tier === 'low'
        ? 'jp-MLOps-badge-ok'
        : 'jp-MLOps-badge-neutral';
}

function validationClass(status: string): string {
  return status === 'approved'
    ? 'jp-MLOps-badge-ok'
    : status === 'approved_with_conditions'
      ? 'jp-MLOps-badge-busy'
      : status === 'rejected'
        ? 'jp-MLOps-badge-error'
        : 'jp-MLOps-badge-neutral';
}

/** True when the next review is due before today (UTC, as the server counts). */
export function reviewOverdue(entry: InventoryEntry, today?: string): boolean {
  const day = today ?? new Date().toISOString().slice(0, 10);
  return (
    !!entry.next_review_due &&
    entry.lifecycle_status !== 'retired' &&
    entry.next_review_due < day
  );
}

/** One labelled row of a form laid out as a table. */
function FieldRow(props: {
  label: string;
  children: React.ReactNode;
}): React.ReactElement {
  return (
    <tr>
      <th scope="row">{props.label}</th>
      <td>{props.children}</td>
    </tr>
  );
}

/** A choice among fixed values, with an empty first choice that clears it. */
function ChoiceField(props: {
  className: string;
  'aria-label': string;
  value: string;
  disabled: boolean;
  choices: readonly string[];
  /** The label of the empty choice. */
  none: string;
  onChange: (value: string) => void;
}): React.ReactElement {
  const { choices, none, onChange, ...control } = props;
  return (
    <select {...control} onChange={e => onChange(e.target.value)}>
      <option value="">{none}</option>
      {choices.map(choice => (
        <option key={choice} value={choice}>
          {choice}
        </option>
      ))}
    </select>
  );
}

/** A server's refusal (or a form check's message), shown in place. */
function ErrorMessage(props: {
  error: string | null;
}): React.ReactElement | null {
  return props.error ? (
    <p className="jp-MLOps-message jp-MLOps-error" role="alert">
      {props.error}
    </p>
  ) : null;
}

/**
 * The model's risk inventory (SR 11-7): status badges coloured by tier,
 * validation and review date, and a form that saves the changed fields (the
 * server audits every change and explains a refusal, shown in place).
 */
function RiskInventory(props: {
  name: string;
  client: ModelDetail.IInventoryClient;
  trans: TranslationBundle;
}): React.ReactElement {
  const { name, client, trans } = props;
  const [entry, setEntry] = useState<InventoryEntry | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const { busy, error, setError, run } = useAction();
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    let live = true;
    client
      .load(name)
      .then(found => {
        if (live) {
          setEntry(found);
          setDraft(draftOf(found));
        }
      })
      .catch(reason => {
        if (live) {
          setError(reason instanceof Error ? reason.message : String(reason));
        }
      });
    return () => {
      live = false;
    };
  }, [name, client, setError]);

  const labels: Record<EditableField, string> = {
    purpose: trans.__('Purpose'),
    intended_use: trans.__('Intended use'),
    business_owner: trans.__('Business owner'),
    technical_owner: trans.__('Technical owner'),
    risk_tier: trans.__('Risk tier'),
    lifecycle_status: trans.__('Lifecycle'),
    next_review_due: trans.__('Next review due')
  };
  const edit = (key: EditableField, value: string) => {
    setSaved(false);
    setDraft(current => (current ? { ...current, [key]: value } : current));
  };
  /** What every control of the form shares: its label, value and busy state. */
  const fieldProps = (key: EditableField) => ({
    className: 'jp-mod-styled',
    'aria-label': labels[key],
    value: draft?.[key] ?? '',
    disabled: busy
  });
  const changes = entry && draft ? inventoryChanges(entry, draft) : {};
  const save = () =>
    run(async () => {
      const updated = await client.save(name, changes);
      setEntry(updated);
      setDraft(draftOf(updated));
      setSaved(true);
    });
  const tiers = [...DEFAULT_RISK_TIERS] as string[];
  if (draft?.risk_tier && !tiers.includes(draft.risk_tier)) {
    tiers.push(draft.risk_tier);
  }
  const choiceFields: [EditableField, readonly string[]][] = [
    ['risk_tier', tiers],
    ['lifecycle_status', LIFECYCLE_STATUSES]
  ];
  const overdue = entry ? reviewOverdue(entry) : false;

  return (
    <section className="jp-MLOps-risk" aria-label={trans.__('Model risk')}>
      <h2 className="jp-MLOps-detail-heading">{trans.__('Model risk')}</h2>
      {entry && (
        <div className="jp-MLOps-row jp-MLOps-risk-status">
          <span
            className={`jp-MLOps-badge ${tierClass(entry.risk_tier)}`}
            data-risk-tier={entry.risk_tier ?? ''}
          >
            {entry.risk_tier
              ? trans.__('%1 risk', entry.risk_tier)
              : trans.__('no risk tier')}
          </span>
          <span className="jp-MLOps-badge jp-MLOps-badge-neutral">
            {entry.lifecycle_status ?? trans.__('no lifecycle status')}
          </span>
          <span
            className={`jp-MLOps-badge ${validationClass(entry.validation_status)}`}
            data-validation={entry.validation_status}
            title={entry.validated_at ?? undefined}
          >
            {entry.validation_status.replace(/_/g, ' ')}
            {entry.validated_at ? ` ${entry.validated_at.slice(0, 10)}` : ''}
          </span>
          {entry.next_review_due && (
            <span
              className={`jp-MLOps-badge ${overdue ? 'jp-MLOps-badge-error' : 'jp-MLOps-badge-neutral'}`}
              data-overdue={overdue ? 'true' : 'false'}
            >
              {overdue
                ? trans.__('review overdue since %1', entry.next_review_due)
                : trans.__('next review %1', entry.next_review_due)}
            </span>
          )}
        </div>
      )}
      {draft && (
        <form
          className="jp-MLOps-risk-form"
          onSubmit={e => {
            e.preventDefault();
            if (entry && Object.keys(changes).length > 0) {
              void save();
            }
          }}
        >
          <table className="jp-MLOps-table">
            <tbody>
              {TEXT_FIELDS.map(key => (
                <FieldRow key={key} label={labels[key]}>
                  <input
                    {...fieldProps(key)}
                    onChange={e => edit(key, e.target.value)}
                  />
                </FieldRow>
              ))}
              {choiceFields.map(([key, choices]) => (
                <FieldRow key={key} label={labels[key]}>
                  <ChoiceField
                    {...fieldProps(key)}
                    choices={choices}
                    none={trans.__('(none)')}
                    onChange={value => edit(key, value)}
                  />
                </FieldRow>
              ))}
              <FieldRow label={labels.next_review_due}>
                <input
                  type="date"
                  {...fieldProps('next_review_due')}
                  onChange={e => edit('next_review_due', e.target.value)}
                />
              </FieldRow>
              <FieldRow label={trans.__('Validation')}>
                {entry?.validation_status.replace(/_/g, ' ')}
                {entry?.validated_at
                  ? trans.__(' on %1', entry.validated_at.slice(0, 10))
                  : ''}
              </FieldRow>
            </tbody>
          </table>
          <div className="jp-MLOps-row">
            <button
              type="submit"
              className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-small"
              disabled={busy || Object.keys(changes).length === 0}
            >
              {trans.__('Save risk fields')}
            </button>
            {saved && (
              <span className="jp-MLOps-meta" role="status">
                {trans.__('Saved by %1.', entry?.updated_by ?? '')}
              </span>
            )}
          </div>
        </form>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}

function VersionDetail(props: {
  version: ModelVersion;
  open: boolean;
  mlflowUiUrl?: string | null;
  onDeploy: () => void;
  trans: TranslationBundle;
}): React.ReactElement {
  const { version: v, trans } = props;
  const created = v.created_at ? new Date(v.created_at) : null;
  const link = mlflowModelUrl(props.mlflowUiUrl, v.name, v.version);
  const lineage = lineageTags(trans).filter(([key]) => v.tags[key]);
  const otherTags = Object.fromEntries(
    Object.entries(v.tags).filter(([key]) => !key.startsWith('mlops.'))
  );
  return (
    <details
      className="jp-MLOps-version-detail"
      data-version={v.version}
      open={props.open}
    >
      <summary>
        <span className="jp-MLOps-version-number">
          {trans.__('v%1', v.version)}
        </span>
        {v.aliases.map(alias => (
          <span key={alias} className="jp-MLOps-alias">
            @{alias}
          </span>
        ))}
        {created && (
          <span className="jp-MLOps-meta" title={formatTime(created)}>
            {Time.formatHuman(created)}
          </span>
        )}
      </summary>
      <div className="jp-MLOps-row">
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-small"
          aria-label={trans.__('Deploy version %1 of %2', v.version, v.name)}
          onClick={props.onDeploy}
        >
          {trans.__('Deploy…')}
        </button>
        <MLflowLink href={link} trans={trans} />
      </div>
      {v.description && <p className="jp-MLOps-description">{v.description}</p>}
      <KeyValues
        title={trans.__('Metrics')}
        empty={trans.__('No metrics logged by the source run.')}
        values={Object.fromEntries(
          Object.entries(v.metrics).map(([k, n]) => [k, formatNumber(n)])
        )}
      />
      <KeyValues
        title={trans.__('Parameters')}
        empty={trans.__('No parameters logged by the source run.')}
        values={v.params}
      />
      <Signature signature={v.signature} trans={trans} />
      <KeyValues
        title={trans.__('Lineage')}
        empty={trans.__('No lineage recorded.')}
        values={Object.fromEntries(
          lineage.map(([key, label]) => [label, v.tags[key]])
        )}
        extra={v.run_id ? { [trans.__('Source run')]: v.run_id } : undefined}
      />
      {v.tags['mlops.packages'] && (
        <Packages raw={v.tags['mlops.packages']} trans={trans} />
      )}
      <Tags tags={otherTags} label={trans.__('Version tags')} />
    </details>
  );
}

function KeyValues(props: {
  title: string;
  empty: string;
  values: Record<string, string>;
  extra?: Record<string, string>;
}): React.ReactElement {
  const entries = Object.entries({ ...props.values, ...(props.extra ?? {}) });
  return (
    <div className="jp-MLOps-kv">
      <h3 className="jp-MLOps-detail-subheading">{props.title}</h3>
      {entries.length === 0 ? (
        <p className="jp-MLOps-description">{props.empty}</p>
      ) : (
        <table className="jp-MLOps-table" aria-label={props.title}>
          <tbody>
            {entries.map(([key, value]) => (
              <tr key={key}>
                <th scope="row">{key}</th>
                <td>
                  <code>{value}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

interface IColumn {
  name?: string;
  type?: string;
  required?: boolean;
}

/** The signature's inputs and outputs as name: type lists. */
function Signature(props: {
  signature?: ModelSignature | null;
  trans: TranslationBundle;
}): React.ReactElement {
  const { trans } = props;
  const columns = (half: unknown): IColumn[] =>
    Array.isArray(half) ? (half as IColumn[]) : [];
  const inputs = columns(props.signature?.inputs);
  const outputs = columns(props.signature?.outputs);
  return (
    <div className="jp-MLOps-kv">
      <h3 className="jp-MLOps-detail-subheading">{trans.__('Signature')}</h3>
      {inputs.length + outputs.length === 0 ? (
        <p className="jp-MLOps-description">
          {trans.__('No signature: the endpoint cannot check inputs.')}
        </p>
      ) : (
        <table className="jp-MLOps-table" aria-label={trans.__('Signature')}>
          <tbody>
            {inputs.map((c, i) => (
              <tr key={`in-${i}`}>
                <th scope="row">{c.name ?? trans.__('input %1', i)}</th>
                <td>
                  <code>{c.type ?? '?'}</code> {trans.__('input')}
                </td>
              </tr>
            ))}
            {outputs.map((c, i) => (
              <tr key={`out-${i}`}>
                <th scope="row">{c.name ?? trans.__('output %1', i)}</th>
                <td>
                  <code>{c.type ?? '?'}</code> {trans.__('output')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** The packages the model was trained with (a JSON object or list). */
function Packages(props: {
  raw: string;
  trans: TranslationBundle;
}): React.ReactElement {
  let text = props.raw;
  try {
    const parsed: unknown = JSON.parse(props.raw);
    if (Array.isArray(parsed)) {
      text = parsed.join('\n');
    } else if (parsed && typeof parsed === 'object') {
      text = Object.entries(parsed as Record<string, unknown>)
        .map(([k, v]) => `${k}==${String(v)}`)
        .join('\n');
    }
  } catch {
    // Shown as recorded.
  }
  return (
    <details className="jp-MLOps-packages">
      <summary>{props.trans.__('Environment (packages)')}</summary>
      <pre>{text}</pre>
    </details>
  );
}

function Tags(props: {
  tags: Record<string, string>;
  label: string;
}): React.ReactElement | null {
  const entries = Object.entries(props.tags);
  if (entries.length === 0) {
    return null;
  }
  return (
    <ul className="jp-MLOps-tags" aria-label={props.label}>
      {entries.map(([key, value]) => (
        <li key={key} className="jp-MLOps-tag">
          {key}: {value}
        </li>
      ))}
    </ul>
  );
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/** "Open in MLflow" in a new tab, when the MLflow UI's address is configured. */
function MLflowLink(props: {
  href: string | null | undefined;
  trans: TranslationBundle;
}): React.ReactElement | null {
  if (!props.href) {
    return null;
  }
  return (
    <a
      className="jp-MLOps-external"
      href={props.href}
      target="_blank"
      rel="noopener noreferrer"
    >
      {props.trans.__('Open in MLflow')}
    </a>
  );
}
