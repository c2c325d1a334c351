import { nullTranslator } from '@jupyterlab/translation';

import { IPanelContext } from '../panel/section';
import { StorageSection } from '../panel/storage';
import { IMount } from '../api/tokens';

// The real apputils pulls in ES-module web components that this jest setup does not
// transform; rendering a row needs none of it.
jest.mock('@jupyterlab/apputils', () => ({
  Dialog: {},
  showDialog: jest.fn()
}));

const MOUNT: IMount = {
  id: 'm1',
  uri: 'obs://bucket/data/',
  mount_path: '/data/d/',
  local_path: '/data/d/',
  status: 'MOUNTED',
  category: 'OBS',
  failure_reason: null,
  created_at: 1,
  updated_at: 1
};

/**
 * A storage section showing `mounts`; the section only reads `model.mounts`.
 */
function render(mounts: IMount[]): HTMLElement {
  const context = {
    model: { mounts },
    trans: nullTranslator.load('jupyter_modelarts')
  } as unknown as IPanelContext;
  const section = new StorageSection(context);
  section.update();
  return section.node;
}

describe('StorageSection', () => {
  it('should not repeat the path when the mount is where it says', () => {
    const node = render([MOUNT]);
    expect(node.querySelector('.jp-ModelArts-mountTarget')!.textContent).toBe(
      '/data/d/'
    );
    expect(node.querySelector('.jp-ModelArts-mountLocal')).toBeNull();
  });

  it('should show where a linked mount really is, with the full path as tooltip', () => {
    const local = '/root/project/data/d/';
    const node = render([{ ...MOUNT, local_path: local }]);
    const line = node.querySelector('.jp-ModelArts-mountLocal')!;
    expect(line.textContent).toBe(`on this machine: ${local}`);
    expect(line.getAttribute('title')).toBe(local);
  });

  it('should show a broken mount with its reason and an enabled Unmount', () => {
    const reason = '/data/d/ was deleted or moved away';
    const node = render([
      { ...MOUNT, status: 'BROKEN', failure_reason: reason }
    ]);
    const badge = node.querySelector('.jp-ModelArts-badge')!;
    expect(badge.textContent).toBe('BROKEN');
    expect(badge.getAttribute('title')).toBe(
      '/data/d/ no longer shows this mount'
    );
    expect(node.querySelector('.jp-ModelArts-error')!.textContent).toBe(reason);
    const unmount = node.querySelector<HTMLButtonElement>(
      '.jp-ModelArts-unmount'
    )!;
    expect(unmount.textContent).toBe('Unmount');
    expect(unmount.disabled).toBe(false);
  });
});
