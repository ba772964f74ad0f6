import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import React from 'react';
import { auditCsvUrl, listAudit } from '../api';
import { AuditEvent } from '../governance';
import { AuditLog } from '../components/AuditLog';
import { LoadError, Loading } from '../components/EmptyState';
import { mlopsIcon } from '../icons';
import { MLOpsRequestError } from '../request';

/** The audit log, read when opened, on filter and on refresh. */
export class AuditWidget extends ReactWidget {
  constructor(
    private _trans: TranslationBundle,
    target = '',
    private _read: (target?: string) => Promise<AuditEvent[]> = listAudit
  ) {
    super();
    this._target = target;
    this.addClass('jp-MLOps-detail-widget');
    void this.reload();
  }

  get entries(): AuditEvent[] | null {
    return this._entries;
  }

  async reload(): Promise<void> {
    try {
      this._entries = await this._read(this._target || undefined);
      this._error = null;
    } catch (reason) {
      this._error =
        reason instanceof MLOpsRequestError ? reason.message : String(reason);
    }
    this.update();
  }

  protected render(): React.ReactElement {
    const trans = this._trans;
    if (this._error) {
      return (
        <LoadError
          message={this._error}
          onRetry={() => void this.reload()}
          trans={trans}
        />
      );
    }
    if (!this._entries) {
      return <Loading trans={trans} />;
    }
    return (
      <AuditLog
        entries={this._entries}
        target={this._target}
        onTarget={target => {
          this._target = target;
          void this.reload();
        }}
        csvUrl={auditCsvUrl(
          ServerConnection.makeSettings().baseUrl,
          this._target || undefined
        )}
        trans={trans}
      />
    );
  }

  private _target: string;
  private _entries: AuditEvent[] | null = null;
  private _error: string | null = null;
}

export const AUDIT_ID = 'jp-mlops-audit';

export function createAuditPanel(
  trans: TranslationBundle
): MainAreaWidget<AuditWidget> {
  const content = new AuditWidget(trans);
  const panel = new MainAreaWidget({ content });
  panel.id = AUDIT_ID;
  panel.title.label = trans.__('MLOps audit log');
  panel.title.icon = mlopsIcon;
  panel.title.closable = true;
  panel.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: trans.__('Read the audit log again'),
      onClick: () => void content.reload()
    })
  );
  return panel;
}
