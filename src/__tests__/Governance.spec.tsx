import { fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { RenderMimeRegistry } from '@jupyterlab/rendermime';
import {
  GovernanceView,
  labelOnce,
  MarkdownCard
} from '../components/Governance';
import { AuditEvent, LineageChain, versionOf } from '../api';
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
    // Each label says its kind once: "deployment churn-prod", not twice.
    const chips = screen.getAllByRole('listitem').map(li => li.textContent);
    expect(chips[0]).toBe('deployment churn-prod');
    expect(chips[2]).toBe('run abc123');
    expect(chips[3]).toBe('commit f00d (uncommitted changes)');
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

  it('writes a lineage label once', () => {
    expect(labelOnce('deployment', 'deployment churn-prod')).toBe('churn-prod');
    expect(labelOnce('version', 'churn v3')).toBe('churn v3');
  });

  it('renders the model card as sanitized Markdown, never raw HTML', async () => {
    const rendered: Array<{ trusted: boolean; source: unknown }> = [];
    const rendermime = new RenderMimeRegistry({
      initialFactories: [
        {
          safe: true,
          mimeTypes: ['text/markdown'],
          createRenderer: () => {
            const node = document.createElement('div');
            return {
              node,
              dispose: () => undefined,
              renderModel: async (model: {
                trusted: boolean;
                data: Record<string, unknown>;
              }) => {
                rendered.push({
                  trusted: model.trusted,
                  source: model.data['text/markdown']
                });
                node.textContent = 'rendered';
              }
            } as never;
          }
        }
      ]
    });
    const { container } = render(
      <MarkdownCard
        markdown={'# Card\n<img src=x onerror="alert(1)">'}
        rendermime={rendermime}
      />
    );
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(rendered).toEqual([
      { trusted: false, source: '# Card\n<img src=x onerror="alert(1)">' }
    ]);
    expect(container.querySelector('pre')).toBeNull();
    expect(container.textContent).toBe('rendered');
  });

  it('finds the version of a chain', () => {
    expect(versionOf(chain)).toEqual(['churn', '3']);
    expect(versionOf({ subject: 'x', nodes: [] })).toBeNull();
  });
});
