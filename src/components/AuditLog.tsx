import { TranslationBundle } from '@jupyterlab/translation';
import React, { useState } from 'react';
import { AuditEvent } from '../api';
import { formatTime } from '../utils';

export namespace AuditLog {
  export interface IProps {
    entries: AuditEvent[];
    /** The target filter the entries were read with. */
    target: string;
    onTarget: (target: string) => void;
    /** Where the CSV export downloads from. */
    csvUrl: string;
    trans: TranslationBundle;
  }
}

/**
 * The audit ledger, newest first: who did what to which target, with the
 * entry's hash (the chain makes tampering evident), filterable by target.
 */
export function AuditLog(props: AuditLog.IProps): React.ReactElement {
  const { trans } = props;
  const [text, setText] = useState(props.target);
  const [open, setOpen] = useState<number | null>(null);
  const entries = [...props.entries].reverse();
  return (
    <div className="jp-MLOps-detail jp-MLOps-audit">
      <header className="jp-MLOps-detail-header">
        <h1 className="jp-MLOps-detail-title">{trans.__('Audit log')}</h1>
        <a className="jp-MLOps-external" href={props.csvUrl} download>
          {trans.__('Export CSV')}
        </a>
      </header>
      <form
        className="jp-MLOps-row"
        onSubmit={e => {
          e.preventDefault();
          props.onTarget(text.trim());
        }}
      >
        <input
          type="search"
          className="jp-mod-styled"
          placeholder={trans.__('Target, e.g. deployment/churn or model/churn')}
          aria-label={trans.__('Audit target')}
          value={text}
          onChange={e => setText(e.target.value)}
        />
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-small"
        >
          {trans.__('Filter')}
        </button>
      </form>
      {entries.length === 0 ? (
        <p className="jp-MLOps-description">
          {props.target
            ? trans.__('No audit entries under %1.', props.target)
            : trans.__(
                'No audit entries yet: registering, deploying and changing traffic are recorded here.'
              )}
        </p>
      ) : (
        <table className="jp-MLOps-table" aria-label={trans.__('Audit log')}>
          <thead>
            <tr>
              <th>{trans.__('When')}</th>
              <th>{trans.__('Actor')}</th>
              <th>{trans.__('Action')}</th>
              <th>{trans.__('Target')}</th>
              <th>{trans.__('Outcome')}</th>
              <th>{trans.__('Hash')}</th>
            </tr>
          </thead>
          <tbody>
            {entries.map(e => (
              <React.Fragment key={e.seq}>
                <tr
                  data-action={e.action}
                  data-outcome={e.outcome}
                  className={
                    e.outcome === 'ok'
                      ? 'jp-MLOps-audit-row'
                      : 'jp-MLOps-audit-row jp-MLOps-audit-refused'
                  }
                  tabIndex={0}
                  aria-expanded={open === e.seq}
                  title={trans.__('Show what changed')}
                  onClick={() => setOpen(open === e.seq ? null : e.seq)}
                  onKeyDown={event => {
                    if (event.key === 'Enter' || event.key === ' ') {
                      event.preventDefault();
                      setOpen(open === e.seq ? null : e.seq);
                    }
                  }}
                >
                  <td>{formatTime(e.at)}</td>
                  <td>{e.actor}</td>
                  <td>{e.action}</td>
                  <td>
                    <code>{e.target}</code>
                  </td>
                  <td
                    className={
                      e.outcome === 'ok' ? undefined : 'jp-MLOps-error'
                    }
                  >
                    {e.outcome}
                  </td>
                  <td title={e.hash}>
                    <code>{e.hash.slice(0, 10)}</code>
                  </td>
                </tr>
                {open === e.seq && (
                  <tr className="jp-MLOps-audit-detail-row">
                    <td colSpan={6}>
                      <AuditDetail event={e} trans={trans} />
                    </td>
                  </tr>
                )}
              </React.Fragment>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/**
 * What one audit entry changed: the state before and after, and the reason a
 * refused or failed attempt gave.
 */
export function AuditDetail(props: {
  event: AuditEvent;
  trans: TranslationBundle;
}): React.ReactElement {
  const { event: e, trans } = props;
  const show = (value: unknown): string =>
    value === null || value === undefined
      ? trans.__('(nothing)')
      : JSON.stringify(value, null, 2);
  const noState =
    (e.before === null || e.before === undefined) &&
    (e.after === null || e.after === undefined);
  return (
    <div
      className="jp-MLOps-audit-detail"
      aria-label={trans.__('Change %1', e.seq)}
    >
      {e.detail && <p className="jp-MLOps-message">{e.detail}</p>}
      {noState ? (
        <p className="jp-MLOps-description">
          {e.outcome === 'ok'
            ? trans.__('No state was recorded for this entry.')
            : trans.__('Nothing changed: the attempt was %1.', e.outcome)}
        </p>
      ) : (
        <div className="jp-MLOps-audit-diff">
          <section>
            <h4>{trans.__('Before')}</h4>
            <pre data-side="before">{show(e.before)}</pre>
          </section>
          <section>
            <h4>{trans.__('After')}</h4>
            <pre data-side="after">{show(e.after)}</pre>
          </section>
        </div>
      )}
    </div>
  );
}
