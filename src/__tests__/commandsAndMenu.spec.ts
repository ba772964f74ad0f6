import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { CommandPalette, ContextMenu } from '@lumino/widgets';
import plugins from '../index';
import { addCommands, addMenus, CATEGORY } from '../commandsAndMenu';
import { MLOpsModel } from '../model';
import { CommandIDs, IMLOpsModel } from '../tokens';
import { FakeClient, trans } from './fixtures';

function fakeApp(commands: CommandRegistry) {
  return {
    commands,
    shell: { activateById: jest.fn(), add: jest.fn() },
    contextMenu: new ContextMenu({ commands }),
    contextMenuHitTest: () => undefined
  } as unknown as JupyterFrontEnd;
}

describe('commands and menus', () => {
  it('registers every command of the CommandIDs namespace', () => {
    const commands = new CommandRegistry();
    const model = new MLOpsModel({ client: new FakeClient() });
    addCommands({
      app: fakeApp(commands),
      model,
      panelId: 'jp-mlops-sidebar',
      trans,
      notebooks: null,
      rendermime: null,
      defaultTarget: () => 'local'
    });
    for (const id of Object.values(CommandIDs)) {
      expect(commands.hasCommand(id)).toBe(true);
    }
    model.dispose();
  });

  it('puts the palette entries in the "MLOps" category', () => {
    const commands = new CommandRegistry();
    for (const id of Object.values(CommandIDs)) {
      commands.addCommand(id, { label: id, execute: () => undefined });
    }
    const lumino = new CommandPalette({ commands });
    const palette = {
      addItem: (options: CommandPalette.IItemOptions) => lumino.addItem(options)
    } as unknown as ICommandPalette;
    addMenus(fakeApp(commands), palette);
    expect(CATEGORY).toBe('MLOps');
    expect(new Set(lumino.items.map(i => i.category))).toEqual(
      new Set(['MLOps'])
    );
    expect(lumino.items.map(i => i.command)).toEqual(
      expect.arrayContaining([CommandIDs.open, CommandIDs.deploy])
    );
    lumino.dispose();
  });

  it('provides the model through a token the sidebar plugin requires', () => {
    const [modelPlugin, sidebar] = plugins;
    expect(modelPlugin.provides).toBe(IMLOpsModel);
    expect(sidebar.requires).toContain(IMLOpsModel);
  });
});
