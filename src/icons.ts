import { LabIcon } from '@jupyterlab/ui-components';

// A cube (the model) with an arrow leaving it (the deployment). The `jp-icon3`
// class lets the theme recolour it, so it follows light and dark themes.
const mlopsSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M11 1.6 3 6.2v9.2l8 4.6 8-4.6V6.2Zm0 2.3 5.6 3.2L11 10.3 5.4 7.1ZM5 8.8l5 2.9v5.8l-5-2.9Zm7 8.7v-5.8l5-2.9v5.8Z"/>
    <path d="M17.6 15.6h3.2l-3.1-3.1 1.4-1.4 5.5 5.5-5.5 5.5-1.4-1.4 3.1-3.1h-3.2Z"/>
  </g>
</svg>`;

export const mlopsIcon = new LabIcon({
  name: 'jupyter_mlops:mlops',
  svgstr: mlopsSvg
});
