import { MLOpsModel } from '../model';
import { DefaultTarget } from '../settings';
import { FakeClient } from './fixtures';

describe('DefaultTarget', () => {
  it("prefers the user's choice, then the server's default, then local", async () => {
    const client = new FakeClient();
    client.uiConfig = { mlflow_ui_url: null, default_target: 'ray' };
    const model = new MLOpsModel({ client });
    const target = new DefaultTarget(model);
    expect(target.value).toBe('local');

    await model.loadUIConfig();
    target.update();
    expect(target.value).toBe('ray');

    // The schema's default is not a choice: the server's default still wins.
    target.setting = { composite: 'local' };
    expect(target.value).toBe('ray');
    target.setting = { user: 'kserve', composite: 'kserve' };
    expect(target.value).toBe('kserve');
    model.dispose();
  });
});
