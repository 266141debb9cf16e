// The browser loads uPlot's own ES module, which every node serves as /dashboard/uplot.js beside these
// modules; this file gives that import uPlot's published types.
import uPlot from 'uplot';

export default uPlot;
