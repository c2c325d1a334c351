import { IMetricSeries } from '../api/tokens';

const SVG_NS = 'http://www.w3.org/2000/svg';

const WIDTH = 240;
const HEIGHT = 60;

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    element.setAttribute(name, String(value));
  }
  return element;
}

function div(cls: string, text = ''): HTMLElement {
  const element = document.createElement('div');
  element.className = cls;
  element.textContent = text;
  return element;
}

/**
 * The top of a chart's scale: 100 for percentages that stay under it, otherwise the next
 * 1, 2 or 5 times a power of ten at or above the largest value.
 *
 * @param max The largest value
 * @param unit The unit
 * @returns The top
 */
export function scaleTop(max: number, unit: string): number {
  if (unit === '%' && max <= 100) {
    return 100;
  }
  if (max <= 0) {
    return 1;
  }
  const power = 10 ** Math.floor(Math.log10(max));
  const step = [1, 2, 5, 10].find(s => s * power >= max)!;
  return step * power;
}

/**
 * The points of a series scaled into a box, as an SVG `points` attribute.
 *
 * @param points `[time, value]` pairs, oldest first
 * @param width Box width
 * @param height Box height
 * @param top The value at the top of the box
 * @returns The attribute value
 */
export function scalePoints(
  points: [number, number][],
  width: number,
  height: number,
  top: number
): string {
  if (points.length === 0) {
    return '';
  }
  const t0 = points[0][0];
  const span = Math.max(1, points[points.length - 1][0] - t0);
  return points
    .map(([t, v]) => {
      const x = ((t - t0) / span) * width;
      const y = height - (Math.min(Math.max(v, 0), top) / top) * height;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit'
  });
}

function value(v: number, unit: string): string {
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${unit === '%' ? '%' : ''}`;
}

/**
 * A chart frame: a caption, then the plot or a message in its place.
 */
function frame(
  metric: string,
  caption: string,
  body: HTMLElement
): HTMLElement {
  const figure = document.createElement('figure');
  figure.className = 'jp-ModelArts-chart';
  figure.dataset.metric = metric;
  const figcaption = document.createElement('figcaption');
  figcaption.textContent = caption;
  figure.append(figcaption, body);
  return figure;
}

/**
 * A chart that has no samples yet.
 *
 * @param metric The metric's name, for example `cpuUsage`
 * @param label Its title, for example `CPU (%)`
 * @param message What to say, for example `Waiting for samples…`
 * @returns The figure
 */
export function emptyChart(
  metric: string,
  label: string,
  message: string
): HTMLElement {
  return frame(metric, label, div('jp-ModelArts-chartEmpty', message));
}

/**
 * Draw one metric series as a small line chart with its scale (0 to the top, half-way grid
 * line) and its time span.
 *
 * @param series The series
 * @param label Its title, for example `CPU (%)`
 * @param message What to say when it has no samples
 * @returns The figure
 */
export function lineChart(
  series: IMetricSeries,
  label: string,
  message: string
): HTMLElement {
  const points = series.points;
  if (points.length === 0) {
    return emptyChart(series.metric, label, message);
  }
  const last = points[points.length - 1];
  const max = Math.max(...points.map(p => p[1]));
  const top = scaleTop(max, series.unit);
  const caption = `${label}: ${value(Number(last[1].toFixed(1)), series.unit)}`;
  const chart = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': `${caption}, max ${value(Number(max.toFixed(1)), series.unit)}`
  });
  chart.append(
    svg('line', {
      x1: 0,
      y1: HEIGHT / 2,
      x2: WIDTH,
      y2: HEIGHT / 2,
      class: 'jp-ModelArts-chartGrid',
      'vector-effect': 'non-scaling-stroke'
    }),
    svg('line', {
      x1: 0,
      y1: HEIGHT,
      x2: WIDTH,
      y2: HEIGHT,
      class: 'jp-ModelArts-chartAxis',
      'vector-effect': 'non-scaling-stroke'
    })
  );
  const scaled = scalePoints(points, WIDTH, HEIGHT, top);
  chart.append(
    points.length > 1
      ? svg('polyline', {
          points: scaled,
          class: 'jp-ModelArts-chartLine',
          fill: 'none',
          'vector-effect': 'non-scaling-stroke'
        })
      : // One sample: a short level mark (a line needs two).
        svg('line', {
          x1: 0,
          y1: scaled.split(',')[1],
          x2: WIDTH,
          y2: scaled.split(',')[1],
          class: 'jp-ModelArts-chartLine',
          'stroke-dasharray': '2 3',
          'vector-effect': 'non-scaling-stroke'
        })
  );
  const yAxis = div('jp-ModelArts-chartY');
  yAxis.append(div('', value(top, series.unit)), div('', '0'));
  const xAxis = div('jp-ModelArts-chartX');
  xAxis.append(div('', clock(points[0][0])), div('', clock(last[0])));
  const plot = div('jp-ModelArts-chartPlot');
  plot.append(yAxis, chart, div(''), xAxis);
  return frame(series.metric, caption, plot);
}
