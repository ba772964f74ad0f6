import { formatTime } from '../utils';
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { Approval, IApprovalEvidence, IVariantState } from '../api';

export namespace ApprovalsView {
  export interface IProps {
    approvals: Approval[];
    /** Why the last decision on a request was refused, shown on its card. */
    refusal?: { id: number; message: string } | null;
    /** Which requests are listed: `pending`, or '' for all. */
    status: string;
    onStatus: (status: string) => void;
    onDecide: (approval: Approval, grant: boolean) => void;
    trans: TranslationBundle;
  }
}

const BADGE: Record<string, string> = {
  pending: 'jp-MLOps-badge-busy',
  granted: 'jp-MLOps-badge-ok',
  used: 'jp-MLOps-badge-neutral',
  rejected: 'jp-MLOps-badge-error'
};

/**
 * Approval requests for protected changes, newest first, each with the
 * evidence an approver needs (the change, candidate against baseline metrics,
 * schema difference) and grant/reject buttons while it is pending. The server
 * decides who may grant (an approver who did not ask).
 */
export function ApprovalsView(props: ApprovalsView.IProps): React.ReactElement {
  const { trans } = props;
  const approvals = [...props.approvals].sort((a, b) => b.id - a.id);
  return (
    <div className="jp-MLOps-detail jp-MLOps-approvals">
      <header className="jp-MLOps-detail-header">
        <h1 className="jp-MLOps-detail-title">{trans.__('Approvals')}</h1>
        <select
          className="jp-mod-styled"
          aria-label={trans.__('Show approvals')}
          value={props.status}
          onChange={e => props.onStatus(e.target.value)}
        >
          <option value="pending">{trans.__('Pending')}</option>
          <option value="">{trans.__('All')}</option>
        </select>
      </header>
      {approvals.length === 0 ? (
        <p className="jp-MLOps-description">
          {props.status === 'pending'
            ? trans.__(
                'Nothing waits for an approval. Protected changes refused for want of one can be requested from their error notification.'
              )
            : trans.__('No approval requests yet.')}
        </p>
      ) : (
        approvals.map(a => (
          <section
            key={a.id}
            className="jp-MLOps-approval"
            data-approval={a.id}
            aria-label={trans.__('Approval request %1', a.id)}
          >
            <div className="jp-MLOps-row">
              <strong>
                #{a.id} {a.action.replace('_', ' ')} {a.target}
              </strong>
              <span className={`jp-MLOps-badge ${BADGE[a.status] ?? ''}`}>
                {a.status}
              </span>
            </div>
            <p className="jp-MLOps-description">
              {trans.__(
                'Requested by %1, %2',
                a.requested_by,
                formatTime(a.created_at)
              )}
              {a.decided_by
                ? ` · ${trans.__('%1 by %2', a.status, a.decided_by)}`
                : ''}
              {a.comment ? ` · “${a.comment}”` : ''}
            </p>
            <Evidence evidence={a.evidence} trans={trans} />
            {props.refusal?.id === a.id && (
              <p className="jp-MLOps-error" role="alert">
                {trans.__('Not decided: %1', props.refusal.message)}
              </p>
            )}
            {a.status === 'pending' && (
              <div className="jp-MLOps-row">
                <button
                  className="jp-Button jp-mod-styled jp-mod-accept jp-MLOps-small"
                  onClick={() => props.onDecide(a, true)}
                >
                  {trans.__('Grant')}
                </button>
                <button
                  className="jp-Button jp-mod-styled jp-mod-warn jp-MLOps-small"
                  onClick={() => props.onDecide(a, false)}
                >
                  {trans.__('Reject')}
                </button>
              </div>
            )}
          </section>
        ))
      )}
    </div>
  );
}

function variants(list: IVariantState[]): string {
  return list
    .map(v => `${v.name}=${v.model_name}/${v.model_version}@${v.weight}%`)
    .join(', ');
}

function Evidence(props: {
  evidence: IApprovalEvidence;
  trans: TranslationBundle;
}): React.ReactElement {
  const { evidence: e, trans } = props;
  const names = Array.from(
    new Set([
      ...Object.keys(e.candidate?.metrics ?? {}),
      ...Object.keys(e.baseline?.metrics ?? {})
    ])
  ).sort();
  const diff = e.schema_diff;
  const changed = diff ? Object.entries(diff.changed) : [];
  const sameSchema =
    !diff ||
    (diff.added.length === 0 &&
      diff.removed.length === 0 &&
      changed.length === 0);
  return (
    <div className="jp-MLOps-evidence">
      {e.change && <p>{e.change}</p>}
      {e.current && e.proposed && (
        <table className="jp-MLOps-table" aria-label={trans.__('Traffic')}>
          <tbody>
            <tr>
              <th scope="row">{trans.__('Serving now')}</th>
              <td>{variants(e.current)}</td>
            </tr>
            <tr>
              <th scope="row">{trans.__('Proposed')}</th>
              <td>{variants(e.proposed)}</td>
            </tr>
          </tbody>
        </table>
      )}
      {names.length > 0 && (
        <table className="jp-MLOps-table" aria-label={trans.__('Metrics')}>
          <thead>
            <tr>
              <th>{trans.__('Metric')}</th>
              <th>{e.candidate?.model ?? trans.__('Candidate')}</th>
              <th>{e.baseline?.model ?? trans.__('In production')}</th>
            </tr>
          </thead>
          <tbody>
            {names.map(n => (
              <tr key={n}>
                <td>{n}</td>
                <td>{format(e.candidate?.metrics[n])}</td>
                <td>{format(e.baseline?.metrics[n])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="jp-MLOps-description">
        {sameSchema
          ? trans.__('Same input schema as in production.')
          : [
              diff!.added.length
                ? trans.__('Added: %1', diff!.added.join(', '))
                : '',
              diff!.removed.length
                ? trans.__('Removed: %1', diff!.removed.join(', '))
                : '',
              ...changed.map(([c, [was, now]]) =>
                trans.__('%1: %2 → %3', c, was, now)
              )
            ]
              .filter(Boolean)
              .join(' · ')}
      </p>
    </div>
  );
}

function format(value: number | undefined): string {
  return value === undefined ? '–' : Number(value.toPrecision(4)).toString();
}
