import {
  InputDialog,
  MainAreaWidget,
  Notification
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import React from 'react';
import { ApprovalsView } from '../components/Approvals';
import { Approval, decideApproval, listApprovals } from '../api';
import { createLoadedPanel, LoadedWidget } from './loaded';

/** Approval requests, read when opened, on filter, after a decision and on refresh. */
export class ApprovalsWidget extends LoadedWidget<Approval[]> {
  constructor(
    trans: TranslationBundle,
    private _api: {
      list: typeof listApprovals;
      decide: typeof decideApproval;
    } = { list: listApprovals, decide: decideApproval }
  ) {
    super(trans);
    void this.reload();
  }

  /** Grant or reject with an optional comment; a refusal is shown on the request's card as the server says it. */
  async decide(
    approval: Approval,
    grant: boolean,
    comment?: string
  ): Promise<void> {
    try {
      await this._api.decide(approval.id, grant, comment);
      Notification.success(
        grant
          ? this.trans.__('Approval #%1 granted.', approval.id)
          : this.trans.__('Approval #%1 rejected.', approval.id),
        { autoClose: 3000 }
      );
      this._refusal = null;
    } catch (reason) {
      // Shown on the request's card, where the approver is looking.
      this._refusal = {
        id: approval.id,
        message: reason instanceof Error ? reason.message : String(reason)
      };
    }
    await this.reload();
  }

  protected load(): Promise<Approval[]> {
    return this._api.list(this._status || undefined);
  }

  protected renderLoaded(approvals: Approval[]): React.ReactElement {
    return (
      <ApprovalsView
        approvals={approvals}
        refusal={this._refusal}
        status={this._status}
        onStatus={status => {
          this._status = status;
          void this.reload();
        }}
        onDecide={async (approval, grant) => {
          const answer = await InputDialog.getText({
            title: grant
              ? this.trans.__('Grant #%1?', approval.id)
              : this.trans.__('Reject #%1?', approval.id),
            label: this.trans.__('Comment (kept in the audit log)'),
            okLabel: grant ? this.trans.__('Grant') : this.trans.__('Reject')
          });
          if (answer.button.accept) {
            await this.decide(approval, grant, answer.value || undefined);
          }
        }}
        trans={this.trans}
      />
    );
  }

  private _status = 'pending';
  private _refusal: { id: number; message: string } | null = null;
}

export const APPROVALS_ID = 'jp-mlops-approvals';

export function createApprovalsPanel(
  trans: TranslationBundle
): MainAreaWidget<ApprovalsWidget> {
  return createLoadedPanel(new ApprovalsWidget(trans), {
    id: APPROVALS_ID,
    label: trans.__('MLOps approvals'),
    refreshTooltip: trans.__('Read the approvals again')
  });
}
