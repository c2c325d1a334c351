// The code loaded on first use: the job view and the cell outputs share the log renderer, so
// they are one chunk (two chunks would each carry a copy of it).
export { JobView } from './jobview/jobview';
export { createView } from './cells/views';
