import { MainAreaWidget } from '@jupyterlab/apputils';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { GovernanceView } from '../components/Governance';
import {
  ChainReport,
  deploymentLineage,
  AuditEvent,
  LineageChain,
  listAudit,
  ModelCard,
  modelCard,
  verifyAudit,
  versionOf
} from '../api';
import { createLoadedPanel, LoadedWidget } from './loaded';

/** What the governance view reads at once. */
interface IGovernanceData {
  chain: LineageChain;
  events: AuditEvent[];
  card: ModelCard | null;
}

/**
 * A deployment's lineage chain, audit history and model card, read when
 * opened and on refresh.
 */
export class GovernanceWidget extends LoadedWidget<IGovernanceData> {
  constructor(private _options: GovernanceWidget.IOptions) {
    super(_options.trans);
    void this.reload();
  }

  async verify(): Promise<void> {
    try {
      this._report = await verifyAudit();
    } catch (reason) {
      this._report = { ok: false, entries: 0, message: String(reason) };
    }
    this.update();
  }

  protected async load(): Promise<IGovernanceData> {
    const { name } = this._options;
    const [chain, events] = await Promise.all([
      deploymentLineage(name),
      listAudit(`deployment/${name}`)
    ]);
    const version = versionOf(chain);
    const card = version
      ? await modelCard(version[0], version[1]).catch(() => null)
      : null;
    return { chain, events, card };
  }

  protected renderLoaded(data: IGovernanceData): React.ReactElement {
    return (
      <GovernanceView
        chain={data.chain}
        events={data.events}
        card={data.card}
        report={this._report}
        onVerify={() => void this.verify()}
        rendermime={this._options.rendermime ?? null}
        trans={this.trans}
      />
    );
  }

  private _report: ChainReport | null = null;
}

export namespace GovernanceWidget {
  export interface IOptions {
    name: string;
    trans: TranslationBundle;
    /** Renders the model card's Markdown (sanitized); text without it. */
    rendermime?: IRenderMimeRegistry | null;
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
  return createLoadedPanel(new GovernanceWidget(options), {
    id: governanceId(options.name),
    label: options.trans.__('Governance: %1', options.name),
    refreshTooltip: options.trans.__('Read lineage, audit and card again')
  });
}
