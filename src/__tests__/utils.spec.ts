import pkg from '../../package.json';
import {
  alertText,
  formatTime,
  isValidDeploymentName,
  normalizeVersion,
  predictionSnippet,
  stepsOf,
  toDeploymentName,
  versionsMatch
} from '../utils';
import { FRONTEND_VERSION } from '../version';
import { deployment } from './fixtures';

describe('deployment names', () => {
  it.each([
    ['churn', 'churn'],
    ['Churn_Model', 'churn-model'],
    ['fraud.detector v2', 'fraud-detector-v2'],
    ['__weird__', 'weird'],
    ['---', 'my-model'],
    ['A'.repeat(80), 'a'.repeat(63)]
  ])('derives a DNS label from the model name %s', (model, expected) => {
    const name = toDeploymentName(model);
    expect(name).toBe(expected);
    expect(isValidDeploymentName(name)).toBe(true);
  });

  it.each(['Churn', 'churn_model', '-churn', 'churn-', 'a'.repeat(64), ''])(
    'rejects %s',
    name => {
      expect(isValidDeploymentName(name)).toBe(false);
    }
  );
});

describe('stepsOf', () => {
  it('marks every step done once ready', () => {
    expect(
      stepsOf(deployment('d', { state: 'ready' })).map(s => s.status)
    ).toEqual(['done', 'done', 'done', 'done']);
  });

  it('prefers the steps the server sent', () => {
    const sent = [
      { name: 'resolving', status: 'failed' as const, message: 'x' }
    ];
    expect(stepsOf(deployment('d', { state: 'failed', steps: sent }))).toBe(
      sent
    );
  });
});

describe('versions', () => {
  it('keeps the frontend version equal to package.json', () => {
    expect(FRONTEND_VERSION).toBe(pkg.version);
  });

  it('compares npm and PEP 440 spellings of the same release', () => {
    expect(normalizeVersion('0.2.0-beta.1')).toBe('0.2.0b1');
    expect(versionsMatch('0.2.0-rc.1', '0.2.0rc1')).toBe(true);
    expect(versionsMatch('0.1.0', '0.1.0')).toBe(true);
    expect(versionsMatch('0.1.0', '0.2.0')).toBe(false);
  });
});

describe('predictionSnippet', () => {
  it('calls the deployment through the API and over HTTP', () => {
    const code: string = predictionSnippet(
      deployment('churn', {
        url: 'http://127.0.0.1:9000/deployments/churn/invocations'
      })
    );
    expect(code).toContain('jupyter_mlops.predict("churn", X)');
    expect(code).toContain(
      '"http://127.0.0.1:9000/deployments/churn/invocations"'
    );
    expect(code).toContain('"dataframe_split"');
  });

  it('leaves out the HTTP example while there is no endpoint yet', () => {
    const code: string = predictionSnippet(deployment('churn', { url: null }));
    expect(code).toContain('jupyter_mlops.predict("churn", X)');
    expect(code).not.toContain('requests');
  });
});

describe('alertText', () => {
  it('does not repeat the deployment the UI already names', () => {
    expect(
      alertText({
        deployment: 'watched-prod',
        message: 'watched-prod: drift_share = 1 >= 0.5 over the last 3600s'
      })
    ).toBe('drift_share = 1 >= 0.5 over the last 3600s');
    expect(alertText({ deployment: null, message: 'a: b' })).toBe('a: b');
  });
});

describe('formatTime', () => {
  it('shows local time with its zone, and nothing for no time', () => {
    expect(formatTime('2026-12-06T22:35:40Z')).toMatch(/2026.*(UTC|GMT)/);
    expect(formatTime(null)).toBe('');
  });
});
