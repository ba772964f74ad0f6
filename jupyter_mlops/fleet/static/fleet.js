// The fleet dashboard: summary cards, a 30-day trend, and a filterable, sortable, paged table of deployments
// with a drill-down dialog. Everything comes from the service's read-only REST API (relative URLs, so the page
// works under any hub prefix). Text is always set with textContent: no value from the API is parsed as HTML.

const state = { sort: 'health', order: 'asc', page: 1, pageSize: 50, total: 0 };
const $ = id => document.getElementById(id);
// The hub refuses cookie-authenticated fetch() calls without its XSRF token (JupyterHub >= 4.1).
const XSRF = document.querySelector('meta[name="xsrf-token"]').content;

async function api(path) {
  const response = await fetch(path, {
    credentials: 'same-origin',
    headers: { 'X-XSRFToken': XSRF }
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(
      body.message || `${response.status} ${response.statusText}`
    );
  }
  return body;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) {
    node.textContent = String(text);
  }
  if (className) {
    node.className = className;
  }
  return node;
}

function pct(value) {
  return value === null || value === undefined
    ? ''
    : `${(100 * value).toFixed(1)} %`;
}

function ms(value) {
  return value === null || value === undefined
    ? '–'
    : `${Math.round(value)} ms`;
}

function when(iso) {
  return iso ? iso.replace('T', ' ').replace('+00:00', 'Z') : '–';
}

function card(key, value, label, colour) {
  const node = el('div', undefined, `card ${colour || ''}`);
  node.dataset.key = key;
  node.append(el('b', value), el('span', label));
  return node;
}

function renderSummary(s) {
  const cards = $('cards');
  cards.replaceChildren(
    card(
      'deployments',
      s.deployments,
      `deployments (${s.models} models, ${s.owners} owners)`
    ),
    card('green', s.health.green, 'green', 'green'),
    card('amber', s.health.amber, 'amber', 'amber'),
    card('red', s.health.red, 'red', 'red'),
    card('unknown', s.health.unknown ?? 0, 'unknown (no data)', 'unknown'),
    card(
      'out_of_objectives',
      s.out_of_objectives,
      'out of objectives',
      s.out_of_objectives ? 'red' : ''
    ),
    card(
      'estimated_below_objective',
      s.estimated_below_objective ?? 0,
      `estimated below objective (of ${s.estimated_objectives ?? 0} with one)`,
      // red while one is below; green once every objective is met; no colour without objectives
      s.estimated_below_objective
        ? 'red'
        : s.estimated_objectives
          ? 'green'
          : ''
    ),
    card(
      'never_monitored',
      s.never_monitored,
      'never monitored',
      s.never_monitored ? 'amber' : ''
    ),
    card(
      'stale',
      s.stale,
      `stale (${s.stale_days} days)`,
      s.stale ? 'amber' : ''
    ),
    card(
      'pending_approvals',
      s.pending_approvals,
      'approvals pending',
      s.pending_approvals ? 'amber' : ''
    ),
    card(
      'open_alerts',
      s.open_alerts,
      'alerts firing',
      s.open_alerts ? 'red' : ''
    )
  );
  $('freshness').textContent =
    `Rollups updated ${when(s.updated_at)}; health over the last ${s.window_hours} h`;
  renderTrend(s.trend);
}

let chart = null;
function renderTrend(days) {
  if (window.Chart) {
    const data = {
      labels: days.map(d => d.day),
      datasets: [
        {
          type: 'bar',
          label: 'requests',
          data: days.map(d => d.requests),
          yAxisID: 'y',
          backgroundColor: '#9db7d8'
        },
        {
          type: 'line',
          label: 'error rate %',
          data: days.map(d => 100 * d.error_rate),
          yAxisID: 'y1',
          borderColor: '#b3261e'
        },
        {
          type: 'line',
          label: 'red deployments',
          data: days.map(d => d.red),
          yAxisID: 'y1',
          borderColor: '#7a1d8f'
        }
      ]
    };
    const options = {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        y: { beginAtZero: true },
        y1: {
          beginAtZero: true,
          position: 'right',
          grid: { drawOnChartArea: false }
        }
      }
    };
    if (chart) {
      chart.data = data;
      chart.update();
    } else {
      chart = new window.Chart($('trend'), { data, options });
    }
    return;
  }
  $('trend').hidden = true;
  const table = $('trend-table');
  table.hidden = false;
  const head = el('tr');
  ['day', 'requests', 'error rate', 'green', 'amber', 'red'].forEach(h =>
    head.append(el('th', h))
  );
  const rows = days.map(d => {
    const tr = el('tr');
    [
      d.day,
      d.requests,
      pct(d.error_rate),
      d.green ?? '',
      d.amber ?? '',
      d.red ?? ''
    ].forEach(v => tr.append(el('td', v)));
    return tr;
  });
  table.replaceChildren(head, ...rows);
}

function query() {
  const params = new URLSearchParams({
    sort: state.sort,
    order: state.order,
    page: String(state.page),
    page_size: String(state.pageSize)
  });
  for (const id of ['q', 'owner', 'health', 'problem']) {
    const value = $(id).value.trim();
    if (value) {
      params.set(id, value);
    }
  }
  return params;
}

function renderRows(page) {
  state.total = page.total;
  const body = $('deployments').querySelector('tbody');
  body.replaceChildren(
    ...page.items.map(d => {
      const tr = el('tr');
      tr.dataset.name = d.name;
      const health = el('td');
      health.append(
        el('span', undefined, `dot ${d.health_colour}`),
        el('span', d.health_score ?? '–')
      );
      const p95 = el(
        'td',
        `${ms(d.p95_ms)} / ${ms(d.latency_objective_ms)}`,
        d.p95_ms > d.latency_objective_ms ? 'bad' : ''
      );
      const aliases = Object.entries(d.aliases || {})
        .map(([a, v]) => `@${a}=v${v}`)
        .join(' ');
      tr.append(
        health,
        el('td', d.name),
        el('td', d.owner ?? ''),
        el(
          'td',
          `${d.model_name} v${d.model_version}${d.latest_version && d.latest_version !== d.model_version ? ` (latest v${d.latest_version})` : ''}`
        ),
        el('td', aliases),
        el(
          'td',
          d.monitored ? d.requests : 'never monitored',
          d.monitored ? '' : 'muted'
        ),
        el('td', pct(d.error_rate), d.error_rate > 0.05 ? 'bad' : ''),
        p95,
        el('td', d.drift_share === null ? '–' : pct(d.drift_share)),
        el('td', d.open_alerts || '', d.open_alerts ? 'bad' : ''),
        el('td', d.pending_approvals || ''),
        el('td', when(d.last_deploy))
      );
      tr.addEventListener('click', () => openDetail(d.name));
      return tr;
    })
  );
  const pages = Math.max(1, Math.ceil(page.total / state.pageSize));
  $('page').textContent = `page ${state.page} of ${pages}`;
  $('total').textContent = `${page.total} deployment(s)`;
  $('prev').disabled = state.page <= 1;
  $('next').disabled = state.page >= pages;
  document.querySelectorAll('th[data-sort]').forEach(th => {
    th.classList.toggle('sorted', th.dataset.sort === state.sort);
    th.classList.toggle('asc', state.order === 'asc');
  });
}

function table(headers, rows) {
  const node = el('table');
  const head = el('tr');
  headers.forEach(h => head.append(el('th', h)));
  node.append(head);
  rows.forEach(r => {
    const tr = el('tr');
    r.forEach(v =>
      tr.append(
        el(
          'td',
          typeof v === 'object' && v !== null ? JSON.stringify(v) : (v ?? '')
        )
      )
    );
    node.append(tr);
  });
  return node;
}

async function openDetail(name) {
  const d = await api(`api/deployments/${encodeURIComponent(name)}`);
  const body = $('detail-body');
  body.replaceChildren(
    el(
      'h2',
      `${d.name} — ${d.model_name} v${d.model_version} (owner ${d.owner ?? '–'})`
    ),
    el(
      'p',
      `Health ${d.health_score ?? 'unknown: no data in the window'} (${d.health_colour}); error rate ${pct(d.error_rate)}; p95 ${ms(d.p95_ms)} (objective ${ms(d.latency_objective_ms)}); drift share ${d.drift_share === null ? 'not measured' : pct(d.drift_share)}.`
    ),
    el('h3', 'Traffic by hour (last 48 h)'),
    table(
      ['hour', 'requests', 'errors', 'error rate', 'mean', 'p95'],
      d.ops.map(o => [
        when(o.time),
        o.requests,
        o.errors,
        pct(o.error_rate),
        ms(o.mean_ms),
        ms(o.p95_ms)
      ])
    ),
    el('h3', 'Alerts'),
    table(
      ['fired', 'rule', 'state', 'message'],
      d.alerts.map(a => [when(a.fired_at), a.rule, a.state, a.message])
    ),
    el('h3', 'Approvals'),
    table(
      ['#', 'action', 'target', 'requested by', 'status', 'decided by'],
      d.approvals.map(a => [
        a.id,
        a.action,
        a.target,
        a.requested_by,
        a.status,
        a.decided_by
      ])
    ),
    el('h3', 'Audit trail'),
    table(
      ['time', 'action', 'actor', 'target', 'outcome', 'after'],
      d.audit.map(e => [
        when(e.at),
        e.action,
        e.actor,
        e.target,
        e.outcome,
        e.after
      ])
    )
  );
  $('detail').showModal();
}

// The "Model risk" panel: registered models by risk tier, reviews overdue and production models never
// validated (issue 17), from the service's risk summary.
function renderRisk(r) {
  // the default scale first (highest risk first), then any other tier, models without a tier last
  const order = t =>
    t === 'unassigned' ? 99 : ['high', 'medium', 'low'].indexOf(t) + 1 || 50;
  const tiers = Object.entries(r.by_tier).sort(
    ([a], [b]) => order(a) - order(b) || a.localeCompare(b)
  );
  $('risk-cards').replaceChildren(
    card('risk_models', r.models, 'registered models'),
    ...tiers.map(([tier, n]) =>
      card(
        `tier_${tier}`,
        n,
        `${tier} risk`,
        tier === 'high' && n ? 'amber' : ''
      )
    ),
    card(
      'review_overdue',
      r.review_overdue,
      'review overdue',
      r.review_overdue ? 'red' : ''
    ),
    card(
      'production_never_validated',
      r.production_never_validated,
      'in production, never validated',
      r.production_never_validated ? 'red' : ''
    )
  );
  const lists = [];
  if (r.overdue.length) {
    lists.push(`Review overdue: ${r.overdue.join(', ')}`);
  }
  if (r.never_validated.length) {
    lists.push(`Never validated: ${r.never_validated.join(', ')}`);
  }
  $('risk-lists').textContent = lists.join(' · ');
}

async function refreshRisk() {
  try {
    renderRisk(await api('api/risk'));
  } catch (error) {
    $('risk-lists').textContent = `Model risk unavailable: ${error.message}`;
  }
}

async function refresh() {
  refreshRisk();
  try {
    const [summary, page] = await Promise.all([
      api('api/summary'),
      api(`api/deployments?${query()}`)
    ]);
    renderSummary(summary);
    renderRows(page);
  } catch (error) {
    $('total').textContent = error.message;
  }
}

$('filters').addEventListener('submit', event => {
  event.preventDefault();
  state.page = 1;
  refresh();
});
$('prev').addEventListener('click', () => {
  state.page -= 1;
  refresh();
});
$('next').addEventListener('click', () => {
  state.page += 1;
  refresh();
});
document.querySelectorAll('th[data-sort]').forEach(th =>
  th.addEventListener('click', () => {
    const sort = th.dataset.sort;
    state.order = state.sort === sort && state.order === 'asc' ? 'desc' : 'asc';
    state.sort = sort;
    state.page = 1;
    refresh();
  })
);
// Downloads and the report carry the token too (the hub checks it on anything that is not a plain page view).
$('export-csv').href = `api/export.csv?_xsrf=${encodeURIComponent(XSRF)}`;
for (const format of ['csv', 'pdf']) {
  $(`risk-${format}`).href =
    `api/risk/inventory.${format}?_xsrf=${encodeURIComponent(XSRF)}`;
}
const token = el('input');
Object.assign(token, { type: 'hidden', name: '_xsrf', value: XSRF });
$('report-form').append(token);
refresh();
setInterval(refresh, 60000);
