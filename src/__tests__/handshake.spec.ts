import { Notification } from '@jupyterlab/apputils';
import * as api from '../api';
import { checkServerVersion } from '../handshake';
import { MLOpsRequestError } from '../request';
import { trans } from './fixtures';

describe('checkServerVersion', () => {
  let getServerVersion: jest.SpyInstance;
  let error: jest.SpyInstance;
  let warning: jest.SpyInstance;

  beforeEach(() => {
    getServerVersion = jest.spyOn(api, 'getServerVersion');
    error = jest.spyOn(Notification, 'error');
    warning = jest.spyOn(Notification, 'warning');
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('is quiet when both sides have the same version', async () => {
    getServerVersion.mockResolvedValue({ version: '0.1.0' });
    await expect(checkServerVersion(trans, '0.1.0')).resolves.toBe('ok');
    expect(error).not.toHaveBeenCalled();
    expect(warning).not.toHaveBeenCalled();
  });

  it('tells how to enable a missing server extension', async () => {
    getServerVersion.mockRejectedValue(new MLOpsRequestError(404, 'Not Found'));
    await expect(checkServerVersion(trans, '0.1.0')).resolves.toBe('missing');
    expect(error).toHaveBeenCalledTimes(1);
    expect(error.mock.calls[0][0]).toContain(
      'jupyter server extension enable jupyter_mlops'
    );
  });

  it('tells how to fix a version mismatch', async () => {
    getServerVersion.mockResolvedValue({ version: '0.2.0' });
    await expect(checkServerVersion(trans, '0.1.0')).resolves.toBe('mismatch');
    expect(warning).toHaveBeenCalledTimes(1);
    const message = warning.mock.calls[0][0] as string;
    expect(message).toContain('frontend 0.1.0 and server 0.2.0 differ');
    expect(message).toContain('pip install -U jupyter_mlops');
  });

  it('reports a server that does not answer', async () => {
    getServerVersion.mockRejectedValue(
      new MLOpsRequestError(0, 'Cannot reach')
    );
    await expect(checkServerVersion(trans, '0.1.0')).resolves.toBe(
      'unreachable'
    );
    expect(error.mock.calls[0][0]).toContain('Cannot reach');
  });
});
