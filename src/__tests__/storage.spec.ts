import { nullTranslator } from '@jupyterlab/translation';

import { mountRow } from '../panel/storage';
import { IMount } from '../api/tokens';

// The real apputils and ui-components pull in ES-module web components that this jest
// setup does not transform; drawing a row needs only an icon's element.
jest.mock('@jupyterlab/apputils', () => ({
  Dialog: class {},
  showDialog: jest.fn()
}));
jest.mock('@jupyterlab/ui-components', () => {
  const icon = { element: () => document.createElement('span') };
  return {
    addIcon: icon,
    closeIcon: icon,
    PanelWithToolbar: class {},
    ToolbarButton: class {}
  };
});

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
 * The row of a mount, and what its unmount button was called with.
 */
function render(mount: IMount): { node: HTMLElement; unmounted: IMount[] } {
  const unmounted: IMount[] = [];
  const node = mountRow(mount, nullTranslator.load('jupyter_modelarts'), m =>
    unmounted.push(m)
  );
  return { node, unmounted };
}

describe('mountRow', () => {
  it('should not repeat the path when the mount is where it says', () => {
    const { node } = render(MOUNT);
    expect(node.querySelector('.jp-ModelArts-mountTarget')!.textContent).toBe(
      '/data/d/'
    );
    expect(node.querySelector('.jp-ModelArts-mountLocal')).toBeNull();
  });

  it('should show where a linked mount really is, with the full path as tooltip', () => {
    const local = '/root/project/data/d/';
    const { node } = render({ ...MOUNT, local_path: local });
    const line = node.querySelector('.jp-ModelArts-mountLocal')!;
    expect(line.textContent).toBe(`on this machine: ${local}`);
    expect(line.getAttribute('title')).toBe(local);
  });

  it('should show a broken mount with its reason and an enabled Unmount', () => {
    const reason = '/data/d/ was deleted or moved away';
    const { node, unmounted } = render({
      ...MOUNT,
      status: 'BROKEN',
      failure_reason: reason
    });
    const badge = node.querySelector('.jp-ModelArts-badge')!;
    expect(badge.textContent).toBe('BROKEN');
    expect(badge.getAttribute('title')).toBe(
      '/data/d/ no longer shows this mount'
    );
    expect(node.querySelector('.jp-ModelArts-error')!.textContent).toBe(reason);
    const unmount = node.querySelector<HTMLButtonElement>(
      '.jp-ModelArts-unmount'
    )!;
    expect(unmount.getAttribute('aria-label')).toBe('Unmount /data/d/');
    expect(unmount.disabled).toBe(false);
    unmount.click();
    expect(unmounted.map(m => m.id)).toEqual(['m1']);
  });

  it('should disable unmount while a mount is in progress', () => {
    const { node } = render({ ...MOUNT, status: 'MOUNTING' });
    expect(
      node.querySelector<HTMLButtonElement>('.jp-ModelArts-unmount')!.disabled
    ).toBe(true);
    expect(node.querySelector('.jp-ModelArts-spinner')).not.toBeNull();
  });
});
