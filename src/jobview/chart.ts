import { IMetricSeries } from '../api/tokens';

const SVG_NS = 'http://www.w3.org/2000/svg';

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

/**
 * The points of a series scaled into a box, as an SVG `points` attribute.
 *
 * @param points `[time, value]` pairs, oldest first
 * @param width Box width
 * @param height Box height
 * @returns The attribute value, and the largest value (the top of the scale)
 */
export function scalePoints(
  points: [number, number][],
  width: number,
  height: number
): { points: string; max: number } {
  if (points.length === 0) {
    return { points: '', max: 0 };
  }
  const t0 = points[0][0];
  const span = Math.max(1, points[points.length - 1][0] - t0);
  const max = Math.max(...points.map(p => p[1]), 1e-9);
  const text = points
    .map(([t, v]) => {
      const x = ((t - t0) / span) * width;
      const y = height - (v / max) * height;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
  return { points: text, max };
}

/**
 * Draw one metric series as a small inline SVG line chart.
 *
 * @param series The series
 * @param label Its title, for example `CPU (%)`
 * @returns The figure
 */
export function lineChart(series: IMetricSeries, label: string): HTMLElement {
  const width = 240;
  const height = 60;
  const figure = document.createElement('figure');
  figure.className = 'jp-ModelArts-chart';
  figure.dataset.metric = series.metric;
  const caption = document.createElement('figcaption');
  const last = series.points[series.points.length - 1];
  const scaled = scalePoints(series.points, width, height);
  caption.textContent = last
    ? `${label}: ${last[1].toFixed(1)} (max ${scaled.max.toFixed(1)})`
    : label;
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': caption.textContent
  });
  chart.append(
    svg('line', {
      x1: 0,
      y1: height,
      x2: width,
      y2: height,
      class: 'jp-ModelArts-chartAxis'
    })
  );
  if (scaled.points) {
    chart.append(
      svg('polyline', {
        points: scaled.points,
        class: 'jp-ModelArts-chartLine',
        fill: 'none',
        'vector-effect': 'non-scaling-stroke'
      })
    );
  }
  figure.append(caption, chart);
  return figure;
}
