import { act, fireEvent, render, screen } from '@testing-library/react';
import React from 'react';
import { InventoryEntry, InventoryUpdate } from '../api';
import {
  inventoryChanges,
  ModelDetail,
  reviewOverdue
} from '../components/ModelDetail';
import { registeredModel, trans } from './fixtures';

const entry = (fields: Partial<InventoryEntry> = {}): InventoryEntry => ({
  model: 'credit',
  validation_status: 'not_validated',
  risk_tier: 'medium',
  lifecycle_status: 'validation',
  business_owner: 'Credit',
  next_review_due: '2027-03-01',
  ...fields
});

const draft = (fields: Record<string, string> = {}) => ({
  purpose: '',
  intended_use: '',
  business_owner: 'Credit',
  technical_owner: '',
  risk_tier: 'medium',
  lifecycle_status: 'validation',
  next_review_due: '2027-03-01',
  ...fields
});

describe('inventoryChanges', () => {
  it('sends only the changed fields, trimmed, and clears an emptied one', () => {
    expect(inventoryChanges(entry(), draft())).toEqual({});
    expect(
      inventoryChanges(
        entry(),
        draft({ risk_tier: 'high', business_owner: '  ', purpose: ' PD ' })
      )
    ).toEqual({ risk_tier: 'high', business_owner: null, purpose: 'PD' });
  });
});

describe('reviewOverdue', () => {
  it('is overdue only after the due day, and never for a retired model', () => {
    expect(reviewOverdue(entry(), '2027-03-01')).toBe(false);
    expect(reviewOverdue(entry(), '2027-03-02')).toBe(true);
    expect(
      reviewOverdue(entry({ lifecycle_status: 'retired' }), '2028-01-01')
    ).toBe(false);
    expect(reviewOverdue(entry({ next_review_due: null }), '2099-01-01')).toBe(
      false
    );
  });
});

describe('ModelDetail risk section', () => {
  it('colours the badges and saves what changed, showing a refusal in place', async () => {
    const saved: InventoryUpdate[] = [];
    let refuse = false;
    const client: ModelDetail.IInventoryClient = {
      load: async () => entry({ validation_status: 'approved' }),
      save: async (_name, fields) => {
        saved.push(fields);
        if (refuse) {
          throw new Error('next_review_due 2020-01-01 is in the past');
        }
        return entry({
          ...fields,
          validation_status: 'approved'
        } as Partial<InventoryEntry>);
      }
    };
    await act(async () => {
      render(
        <ModelDetail
          model={registeredModel('credit', [])}
          inventory={client}
          onDeploy={jest.fn()}
          onSetAlias={jest.fn()}
          onDeleteAlias={jest.fn()}
          trans={trans}
        />
      );
    });
    const tier = await screen.findByText('medium risk');
    expect(tier.className).toContain('jp-MLOps-badge-busy');
    expect(
      screen.getByText('approved', { selector: '[data-validation]' }).className
    ).toContain('jp-MLOps-badge-ok');
    fireEvent.change(screen.getByLabelText('Risk tier'), {
      target: { value: 'high' }
    });
    await act(async () => {
      fireEvent.click(screen.getByText('Save risk fields'));
    });
    expect(saved).toEqual([{ risk_tier: 'high' }]);
    expect(screen.getByText('high risk').className).toContain(
      'jp-MLOps-badge-error'
    );
    refuse = true;
    fireEvent.change(screen.getByLabelText('Next review due'), {
      target: { value: '2020-01-01' }
    });
    await act(async () => {
      fireEvent.click(screen.getByText('Save risk fields'));
    });
    expect(screen.getByRole('alert').textContent).toContain('in the past');
  });
});
