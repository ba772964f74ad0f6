import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import React from 'react';
import { LoadError, Loading } from '../components/EmptyState';
import { GovernanceView } from '../components/Governance';
import {
  auditOf,
  ChainReport,
  deploymentLineage,
  AuditEvent,
  LineageChain,
  ModelCard,
  modelCard,
  verifyAudit,
  versionOf
} from '../governance';
import { mlopsIcon } from '../icons';
import { MLOpsRequestError } from '../request';

/**
 * A deployment's lineage chain, audit history and model card, read when
 * opened and on refresh.
 */
export class GovernanceWidget extends ReactWidget {
  constructor(private _options: GovernanceWidget.IOptions) {
    super();
    this.addClass('jp-MLOps-detail-widget');
    void this.reload();
  }

  async reload(): Promise<void> {
    const { name } = this._options;
    try {
      const [chain, events] = await Promise.all([
        deploymentLineage(name),
        auditOf(`deployment/${name}`)
      ]);
      const version = versionOf(chain);
      this._card = version
        ? await modelCard(version[0], version[1]).catch(() => null)
        : null;
      this._chain = chain;
      this._events = events;
      this._error = null;
    } catch (reason) {
      this._error =
        reason instanceof MLOpsRequestError ? reason.message : String(reason);
    }
    this.update();
  }

  async verify(): Promise<void> {
    try {
      this._report = await verifyAudit();
    } catch (reason) {
      this._report = { ok: false, entries: 0, message: String(reason) };
    }
    this.update();
  }

  protected render(): React.ReactElement {
    const { trans } = this._options;
    if (this._error) {
      return (
        <LoadError
          message={this._error}
          onRetry={() => void this.reload()}
          trans={trans}
        />
      );
    }
    if (!this._chain) {
      return <Loading trans={trans} />;
    }
    return (
      <GovernanceView
        chain={this._chain}
        events={this._events}
        card={this._card}
        report={this._report}
        onVerify={() => void this.verify()}
        trans={trans}
      />
    );
  }

  private _chain: LineageChain | null = null;
  private _events: AuditEvent[] = [];
  private _card: ModelCard | null = null;
  private _report: ChainReport | null = null;
  private _error: string | null = null;
}

export namespace GovernanceWidget {
  export interface IOptions {
    name: string;
    trans: TranslationBundle;
  }
}

export function governanceId(name: string): string {
  return `jp-mlops-governance-${name}`;
}

/**
 * A deployment's governance view in a main-area tab with a refresh button.
 */
export function createGovernancePanel(
  options: GovernanceWidget.IOptions
): MainAreaWidget<GovernanceWidget> {
  const content = new GovernanceWidget(options);
  const panel = new MainAreaWidget({ content });
  panel.id = governanceId(options.name);
  panel.title.label = options.trans.__('Governance: %1', options.name);
  panel.title.icon = mlopsIcon;
  panel.title.closable = true;
  panel.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: options.trans.__('Read lineage, audit and card again'),
      onClick: () => void content.reload()
    })
  );
  return panel;
}
