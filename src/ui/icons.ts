import { LabIcon } from '@jupyterlab/ui-components';

import modelartsSvgstr from '../../style/icons/modelarts.svg';

/**
 * The ModelArts icon of the sidebar tab.
 */
export const modelartsIcon = new LabIcon({
  name: 'jupyter-modelarts:modelarts',
  svgstr: modelartsSvgstr
});
