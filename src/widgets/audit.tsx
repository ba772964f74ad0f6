import { MainAreaWidget } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { AuditEvent, auditCsvUrl, listAudit } from '../api';
import { AuditLog } from '../components/AuditLog';
import { createLoadedPanel, LoadedWidget } from './loaded';

/** The audit log, read when opened, on filter and on refresh. */
export class AuditWidget extends LoadedWidget<AuditEvent[]> {
  constructor(
    trans: TranslationBundle,
    target = '',
    private _read: (target?: string) => Promise<AuditEvent[]> = listAudit
  ) {
    super(trans);
    this._target = target;
    void this.reload();
  }

  get entries(): AuditEvent[] | null {
    return this.data;
  }

  protected load(): Promise<AuditEvent[]> {
    return this._read(this._target || undefined);
  }

  protected renderLoaded(entries: AuditEvent[]): React.ReactElement {
    return (
      <AuditLog
        entries={entries}
        target={this._target}
        onTarget={target => {
          this._target = target;
          void this.reload();
        }}
        csvUrl={auditCsvUrl(
          ServerConnection.makeSettings().baseUrl,
          this._target || undefined
        )}
        trans={this.trans}
      />
    );
  }

  private _target: string;
}

export const AUDIT_ID = 'jp-mlops-audit';

export function createAuditPanel(
  trans: TranslationBundle
): MainAreaWidget<AuditWidget> {
  return createLoadedPanel(new AuditWidget(trans), {
    id: AUDIT_ID,
    label: trans.__('MLOps audit log'),
    refreshTooltip: trans.__('Read the audit log again')
  });
}
