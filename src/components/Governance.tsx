import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import {
  AuditEvent,
  ChainReport,
  LineageChain,
  ModelCard
} from '../governance';

/**
 * The lineage chain, left to right: deployment -> version -> run -> notebook
 * -> commit, then environment and training data.
 */
export function LineageView(props: {
  chain: LineageChain;
  trans: TranslationBundle;
}): React.ReactElement {
  const { chain, trans } = props;
  return (
    <ol
      className="jp-MLOps-lineage"
      aria-label={trans.__('Lineage of %1', chain.subject)}
    >
      {chain.nodes.map(node => (
        <li
          key={`${node.kind}:${node.id}`}
          className="jp-MLOps-lineage-node"
          data-kind={node.kind}
          title={Object.entries(node.detail)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n')}
        >
          <span className="jp-MLOps-lineage-kind">{node.kind}</span>{' '}
          <span className="jp-MLOps-lineage-label">{node.label}</span>
        </li>
      ))}
    </ol>
  );
}

function versionAfter(event: AuditEvent): string {
  const after = event.after as Record<string, unknown> | null | undefined;
  const version = after?.model_version ?? after?.version;
  return version === undefined || version === null ? '' : String(version);
}

/**
 * A deployment's audit history, newest first, refused actions marked.
 */
export function AuditTable(props: {
  events: AuditEvent[];
  report: ChainReport | null;
  onVerify: () => void;
  trans: TranslationBundle;
}): React.ReactElement {
  const { events, report, onVerify, trans } = props;
  return (
    <div className="jp-MLOps-audit">
      <div className="jp-MLOps-audit-toolbar">
        <button className="jp-mod-styled" onClick={onVerify}>
          {trans.__('Verify ledger')}
        </button>
        {report && (
          <span
            role="status"
            className={
              report.ok ? 'jp-MLOps-audit-ok' : 'jp-MLOps-audit-broken'
            }
          >
            {report.message}
          </span>
        )}
      </div>
      {events.length === 0 ? (
        <p>{trans.__('No audit entries yet.')}</p>
      ) : (
        <table className="jp-MLOps-audit-table">
          <thead>
            <tr>
              <th>{trans.__('Time')}</th>
              <th>{trans.__('Action')}</th>
              <th>{trans.__('Actor')}</th>
              <th>{trans.__('Outcome')}</th>
              <th>{trans.__('Version')}</th>
            </tr>
          </thead>
          <tbody>
            {[...events].reverse().map(e => (
              <tr
                key={e.seq}
                className={e.outcome === 'ok' ? '' : 'jp-MLOps-audit-refused'}
                title={e.detail ?? ''}
              >
                <td>{new Date(e.at).toLocaleString()}</td>
                <td>{e.action}</td>
                <td>
                  {e.owner && e.owner !== e.actor
                    ? `${e.actor} (${trans.__('on %1', e.owner)})`
                    : e.actor}
                </td>
                <td>{e.outcome}</td>
                <td>{versionAfter(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/**
 * Lineage, audit history and model card of one deployment.
 */
export function GovernanceView(props: {
  chain: LineageChain;
  events: AuditEvent[];
  card: ModelCard | null;
  report: ChainReport | null;
  onVerify: () => void;
  trans: TranslationBundle;
}): React.ReactElement {
  const { chain, events, card, report, onVerify, trans } = props;
  return (
    <div className="jp-MLOps-governance">
      <h3>{trans.__('Lineage')}</h3>
      <LineageView chain={chain} trans={trans} />
      <h3>{trans.__('Audit history')}</h3>
      <AuditTable
        events={events}
        report={report}
        onVerify={onVerify}
        trans={trans}
      />
      <h3>{trans.__('Model card')}</h3>
      {card ? (
        <pre className="jp-MLOps-card">{card.markdown}</pre>
      ) : (
        <p>{trans.__('No model card.')}</p>
      )}
    </div>
  );
}
