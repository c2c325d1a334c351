import { LabIcon } from '@jupyterlab/ui-components';

import modelartsSvgstr from '../../style/icons/modelarts.svg';
import renewSvgstr from '../../style/icons/renew.svg';

/**
 * The ModelArts icon of the sidebar tab.
 */
export const modelartsIcon = new LabIcon({
  name: 'jupyter-modelarts:modelarts',
  svgstr: modelartsSvgstr
});

/**
 * A clock going round: renew the auto-stop lease.
 */
export const renewIcon = new LabIcon({
  name: 'jupyter-modelarts:renew',
  svgstr: renewSvgstr
});
