import { TranslationBundle } from '@jupyterlab/translation';
import React, { useEffect, useRef, useState } from 'react';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { AuditEvent, ChainReport, LineageChain, ModelCard } from '../api';
import { formatTime } from '../utils';
import { AuditDetail } from './AuditLog';

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
          <span className="jp-MLOps-lineage-label">
            {labelOnce(node.kind, node.label)}
          </span>
        </li>
      ))}
    </ol>
  );
}

/**
 * A node's label without the kind the chip already shows ("deployment
 * deployment churn" reads "deployment churn").
 */
export function labelOnce(kind: string, label: string): string {
  const prefix = `${kind} `;
  return label.toLowerCase().startsWith(prefix.toLowerCase())
    ? label.slice(prefix.length)
    : label;
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
  const [open, setOpen] = useState<number | null>(null);
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
              <React.Fragment key={e.seq}>
                <tr
                  className={
                    e.outcome === 'ok'
                      ? 'jp-MLOps-audit-row'
                      : 'jp-MLOps-audit-row jp-MLOps-audit-refused'
                  }
                  data-outcome={e.outcome}
                  title={e.detail ?? trans.__('Show what changed')}
                  tabIndex={0}
                  aria-expanded={open === e.seq}
                  onClick={() => setOpen(open === e.seq ? null : e.seq)}
                  onKeyDown={event => {
                    if (event.key === 'Enter' || event.key === ' ') {
                      event.preventDefault();
                      setOpen(open === e.seq ? null : e.seq);
                    }
                  }}
                >
                  <td>{formatTime(e.at)}</td>
                  <td>{e.action}</td>
                  <td>
                    {e.owner && e.owner !== e.actor
                      ? `${e.actor} (${trans.__('on %1', e.owner)})`
                      : e.actor}
                  </td>
                  <td>{e.outcome}</td>
                  <td>{versionAfter(e)}</td>
                </tr>
                {open === e.seq && (
                  <tr className="jp-MLOps-audit-detail-row">
                    <td colSpan={5}>
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
 * Lineage, audit history and model card of one deployment.
 */
export function GovernanceView(props: {
  chain: LineageChain;
  events: AuditEvent[];
  card: ModelCard | null;
  report: ChainReport | null;
  onVerify: () => void;
  /** JupyterLab's renderers: the card is Markdown, rendered and sanitized. */
  rendermime?: IRenderMimeRegistry | null;
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
        <MarkdownCard
          markdown={card.markdown}
          rendermime={props.rendermime ?? null}
        />
      ) : (
        <p>{trans.__('No model card.')}</p>
      )}
    </div>
  );
}

/**
 * The model card, rendered by JupyterLab's Markdown renderer as untrusted
 * content (its HTML is sanitized, scripts never run); without a renderer, the
 * source is shown as text, never as raw HTML.
 */
export function MarkdownCard(props: {
  markdown: string;
  rendermime: IRenderMimeRegistry | null;
}): React.ReactElement {
  const host = useRef<HTMLDivElement>(null);
  const { markdown, rendermime } = props;
  useEffect(() => {
    const node = host.current;
    if (!node || !rendermime) {
      return;
    }
    const renderer = rendermime.createRenderer('text/markdown');
    const model = rendermime.createModel({
      data: { 'text/markdown': markdown },
      trusted: false
    });
    let cancelled = false;
    void renderer.renderModel(model).then(() => {
      if (!cancelled) {
        node.replaceChildren(renderer.node);
      }
    });
    return () => {
      cancelled = true;
      renderer.dispose();
    };
  }, [markdown, rendermime]);
  return rendermime ? (
    <div className="jp-MLOps-card jp-MLOps-card-rendered" ref={host} />
  ) : (
    <pre className="jp-MLOps-card">{markdown}</pre>
  );
}
