/**
 * The npm module name the Python widgets point at (`_model_module`, `_view_module`).
 */
export const MODULE_NAME = 'jupyter-modelarts';
