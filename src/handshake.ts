import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { getServerVersion } from './api';
import { MLOpsRequestError } from './request';
import { versionsMatch } from './utils';
import { FRONTEND_VERSION } from './version';

/** What the version handshake found. */
export type HandshakeResult = 'ok' | 'missing' | 'mismatch' | 'unreachable';

/**
 * Check that the jupyter_mlops server extension is enabled and of the same
 * version as this frontend; tell the user how to fix it when it is not.
 */
export async function checkServerVersion(
  trans: TranslationBundle,
  frontendVersion: string = FRONTEND_VERSION
): Promise<HandshakeResult> {
  let serverVersion: string;
  try {
    serverVersion = (await getServerVersion()).version;
  } catch (reason) {
    if (reason instanceof MLOpsRequestError && reason.status === 404) {
      Notification.error(
        trans.__(
          'The jupyter_mlops server extension is not enabled: run `jupyter server extension enable jupyter_mlops` and restart JupyterLab.'
        ),
        { autoClose: false }
      );
      return 'missing';
    }
    Notification.error(
      trans.__(
        'The jupyter_mlops server extension did not answer: %1',
        reason instanceof Error ? reason.message : String(reason)
      ),
      { autoClose: false }
    );
    return 'unreachable';
  }
  if (!versionsMatch(frontendVersion, serverVersion)) {
    Notification.warning(
      trans.__(
        'jupyter_mlops frontend %1 and server %2 differ: reinstall with `pip install -U jupyter_mlops` and reload the page.',
        frontendVersion,
        serverVersion
      ),
      { autoClose: false }
    );
    return 'mismatch';
  }
  return 'ok';
}
