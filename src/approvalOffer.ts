import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { approvalRequestOf, requestApproval } from './api';
import { notifyError, reasonText } from './notify';

/**
 * When a change was refused for want of an approval, say so and offer to
 * request exactly that approval in one click; returns false for any other
 * error (the caller shows it as usual).
 */
export function offerApproval(
  reason: unknown,
  trans: TranslationBundle
): boolean {
  const request = approvalRequestOf(reason);
  if (!request) {
    return false;
  }
  Notification.warning(
    trans.__(
      '%1 on %2 needs an approval from another user with the approver role.',
      request.action.replace('_', ' '),
      request.target
    ),
    {
      autoClose: false,
      actions: [
        {
          label: trans.__('Request approval'),
          callback: () =>
            void requestApproval(request).then(
              approval =>
                Notification.success(
                  trans.__(
                    'Approval #%1 requested: an approver grants it under MLOps approvals, then make the change again.',
                    approval.id
                  ),
                  { autoClose: 8000 }
                ),
              error => notifyError(reasonText(error))
            )
        }
      ]
    }
  );
  return true;
}
