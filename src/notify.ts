import { Notification } from '@jupyterlab/apputils';

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
