import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { MLOpsModel } from './model';
import { CommandIDs } from './tokens';
import { alertText } from './utils';

/** A button on a notification: what would fix or explain the failure. */
export interface INotifyAction {
  label: string;
  callback: () => void;
}

/**
 * The text of a failure: the server's message when there is one.
 */
export function reasonText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

/**
 * Show an error as a toast that stays until the user dismisses it.
 *
 * JupyterLab sends notifications without `autoClose` only to the
 * notification center (the bell): a failure the user just caused must be on
 * screen, with the action that would fix it when there is one.
 */
export function notifyError(
  message: string,
  actions: INotifyAction[] = []
): string {
  return Notification.error(message, { autoClose: false, actions });
}

/**
 * Report what the model finds: a failing refresh (once the server is known to
 * be there: a missing server extension is explained by the handshake) and each
 * alert that fires while JupyterLab runs.
 */
export function notifyFromModel(
  app: JupyterFrontEnd,
  model: MLOpsModel,
  trans: TranslationBundle
): void {
  let serverPresent = false;
  void app.restored
    .then(() => import('./handshake'))
    .then(({ checkServerVersion }) => checkServerVersion(trans))
    .then(result => {
      serverPresent = result === 'ok' || result === 'mismatch';
    });
  model.refreshFailed.connect((_, error) => {
    if (serverPresent) {
      Notification.error(
        trans.__('MLOps could not refresh: %1', error.message),
        {
          autoClose: 15000,
          actions: [
            {
              label: trans.__('Retry'),
              callback: () => void model.refresh()
            }
          ]
        }
      );
    }
  });
  model.alertFired.connect((_, alert) => {
    Notification.warning(
      trans.__(
        'MLOps alert on %1: %2',
        alert.deployment ?? '?',
        alertText(alert)
      ),
      {
        autoClose: false,
        actions: alert.deployment
          ? [
              {
                label: trans.__('Open monitoring'),
                callback: () =>
                  void app.commands.execute(CommandIDs.monitor, {
                    name: alert.deployment as string
                  })
              }
            ]
          : []
      }
    );
  });
}
