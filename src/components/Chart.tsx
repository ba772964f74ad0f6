import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  ChartConfiguration,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip
} from 'chart.js';
import React, { useEffect, useRef } from 'react';

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip
);

/** One series of a chart: a label and a value per x label. */
export interface ISeries {
  label: string;
  values: Array<number | null>;
  /** Drawn dashed (a band's bounds, a threshold). */
  dashed?: boolean;
  /** Index into the theme's series colours (default: the series' position). */
  colour?: number;
  /** Points to mark (e.g. drifted buckets): drawn larger, in the error colour. */
  marks?: boolean[];
}

/**
 * The theme's colours, read from JupyterLab's CSS variables at draw time so
 * light and dark themes both read well (charts draw on a canvas, which CSS
 * cannot restyle afterwards).
 */
export function themeColours(node: Element = document.body): {
  text: string;
  grid: string;
  series: string[];
} {
  const style = getComputedStyle(node);
  const read = (name: string, fallback: string) =>
    style.getPropertyValue(name).trim() || fallback;
  return {
    text: read('--jp-ui-font-color1', '#333'),
    grid: read('--jp-border-color2', '#ccc'),
    series: [
      read('--jp-brand-color1', '#1976d2'),
      read('--jp-warn-color1', '#f57c00'),
      read('--jp-error-color1', '#d32f2f'),
      read('--jp-success-color1', '#388e3c'),
      read('--jp-info-color1', '#0097a7')
    ]
  };
}

/** The chart.js configuration of a line or bar chart of some series. */
export function chartConfig(
  kind: 'line' | 'bar',
  labels: string[],
  series: ISeries[],
  colours: ReturnType<typeof themeColours>,
  yTitle?: string,
  beginAtZero = true
): ChartConfiguration {
  return {
    type: kind,
    data: {
      labels,
      datasets: series.map((s, i) => {
        const colour = colours.series[(s.colour ?? i) % colours.series.length];
        const marked = colours.series[2];
        // A band's bound shows a short bar at each bucket, so a single bucket
        // still shows its band.
        const radius = kind === 'line' ? (s.dashed ? 6 : 1.5) : 0;
        return {
          label: s.label,
          data: s.values,
          borderColor: colour,
          backgroundColor: colour,
          borderDash: s.dashed ? [5, 4] : undefined,
          pointStyle: s.dashed ? ('line' as const) : ('circle' as const),
          pointRadius: s.marks ? s.marks.map(m => (m ? 5 : radius)) : radius,
          pointBackgroundColor: s.marks
            ? s.marks.map(m => (m ? marked : colour))
            : colour,
          pointBorderColor: s.marks
            ? s.marks.map(m => (m ? marked : colour))
            : colour,
          borderWidth: kind === 'line' ? (s.dashed ? 1 : 1.5) : 0,
          spanGaps: true
        };
      })
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { labels: { color: colours.text, boxWidth: 12 } } },
      scales: {
        x: {
          ticks: { color: colours.text, maxTicksLimit: 8 },
          grid: { color: colours.grid }
        },
        y: {
          beginAtZero,
          ticks: { color: colours.text },
          grid: { color: colours.grid },
          title: yTitle
            ? { display: true, text: yTitle, color: colours.text }
            : undefined
        }
      }
    }
  };
}

/**
 * A chart.js chart in a React component. The canvas carries an aria-label,
 * and the same numbers are available to assistive technology as a table by
 * the callers.
 */
export function SeriesChart(props: {
  kind: 'line' | 'bar';
  labels: string[];
  series: ISeries[];
  label: string;
  yTitle?: string;
  /** Start the y axis at zero (default); false fits it to the data. */
  beginAtZero?: boolean;
  /** Changes when the theme does, so the chart redraws in its colours. */
  themeKey?: string;
}): React.ReactElement {
  const canvas = useRef<HTMLCanvasElement>(null);
  const data = JSON.stringify([
    props.labels,
    props.series,
    props.themeKey,
    props.beginAtZero
  ]);
  useEffect(() => {
    const node = canvas.current;
    const context = node?.getContext?.('2d');
    if (!node || !context) {
      return; // No canvas (e.g. jsdom): the table beside the chart remains.
    }
    const chart = new Chart(
      context,
      chartConfig(
        props.kind,
        props.labels,
        props.series,
        themeColours(node),
        props.yTitle,
        props.beginAtZero ?? true
      )
    );
    return () => chart.destroy();
  }, [data, props.kind]);
  return (
    <div className="jp-MLOps-chart">
      <canvas ref={canvas} role="img" aria-label={props.label} />
    </div>
  );
}
