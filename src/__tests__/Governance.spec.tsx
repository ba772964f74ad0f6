import { fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { GovernanceView } from '../components/Governance';
import { AuditEvent, LineageChain, versionOf } from '../governance';
import { trans } from './fixtures';

const chain: LineageChain = {
  subject: 'deployment/churn-prod',
  nodes: [
    {
      kind: 'deployment',
      id: 'churn-prod',
      label: 'deployment churn-prod',
      detail: { owner: 'alice' }
    },
    { kind: 'version', id: 'models:/churn/3', label: 'churn v3', detail: {} },
    { kind: 'run', id: 'abc123', label: 'run abc123', detail: {} },
    {
      kind: 'commit',
      id: 'f00d',
      label: 'commit f00d (uncommitted changes)',
      detail: { dirty: 'true' }
    }
  ]
};

const event = (
  seq: number,
  action: string,
  actor: string,
  outcome = 'ok'
): AuditEvent => ({
  seq,
  at: '2026-11-27T05:00:00+00:00',
  action,
  actor,
  owner: 'alice',
  target: 'deployment/churn-prod',
  outcome,
  after: { model_version: String(seq) },
  prev_hash: '0',
  hash: String(seq)
});

describe('GovernanceView', () => {
  it('shows the lineage chain, the audit history newest first and the card', () => {
    const onVerify = jest.fn();
    render(
      <GovernanceView
        chain={chain}
        events={[
          event(1, 'deploy', 'alice'),
          event(2, 'undeploy', 'bob', 'refused')
        ]}
        card={{
          name: 'churn',
          version: '3',
          intended_use: '',
          limitations: '',
          markdown: '# Model card: churn v3'
        }}
        report={{
          ok: false,
          entries: 2,
          first_broken: 2,
          message: 'Entry 2 was modified after it was written.'
        }}
        onVerify={onVerify}
        trans={trans}
      />
    );
    const nodes = screen
      .getAllByRole('listitem')
      .map(li => li.getAttribute('data-kind'));
    expect(nodes).toEqual(['deployment', 'version', 'run', 'commit']);
    const rows = screen.getAllByRole('row').slice(1);
    expect(rows[0].textContent).toContain('undeploy');
    expect(rows[0].textContent).toContain('bob (on alice)');
    expect(rows[0].className).toContain('jp-MLOps-audit-refused');
    expect(screen.getByRole('status').textContent).toContain(
      'Entry 2 was modified'
    );
    expect(screen.getByText('# Model card: churn v3')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Verify ledger' }));
    expect(onVerify).toHaveBeenCalled();
  });

  it('finds the version of a chain', () => {
    expect(versionOf(chain)).toEqual(['churn', '3']);
    expect(versionOf({ subject: 'x', nodes: [] })).toBeNull();
  });
});
