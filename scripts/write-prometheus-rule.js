#!/usr/bin/env node
// Generates deploy/k8s/base/prometheus-rule.yaml (a Prometheus Operator PrometheusRule) from the
// alert rules Prometheus loads in compose, deploy/prometheus/alerts.yml, so both run the same
// rules. `npm run k8s:prometheus-rule`; test/integration/deploy/k8s-manifests.test.ts fails when
// the committed file is stale. runbook_url annotations become absolute links when
// RUNBOOK_BASE_URL is set (e.g. your repository's blob URL).
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { parse, stringify } = require('yaml');

const root = join(__dirname, '..');
const ALERTS = join(root, 'deploy', 'prometheus', 'alerts.yml');
const OUT = join(root, 'deploy', 'k8s', 'base', 'prometheus-rule.yaml');

/** The PrometheusRule text for the alerts file's content, formatted as prettier would. */
async function render(alertsText) {
  const alerts = parse(alertsText);
  if (!alerts || !Array.isArray(alerts.groups) || alerts.groups.length === 0) {
    throw new Error(`${ALERTS}: no rule groups`);
  }
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'switchyard',
      labels: { release: 'prometheus', 'app.kubernetes.io/name': 'switchyard' },
    },
    spec: { groups: alerts.groups },
  };
  const text =
    '# GENERATED from deploy/prometheus/alerts.yml by scripts/write-prometheus-rule.js: do not edit.\n' +
    stringify(rule, { lineWidth: 0 });
  const prettier = require('prettier');
  const options = (await prettier.resolveConfig(OUT)) ?? {};
  return prettier.format(text, { ...options, parser: 'yaml' });
}

module.exports = { render, ALERTS, OUT };

async function main() {
  const text = await render(readFileSync(ALERTS, 'utf8'));
  if (process.argv.includes('--check')) {
    if (readFileSync(OUT, 'utf8') !== text) {
      process.stderr.write(`${OUT} is stale: run npm run k8s:prometheus-rule\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(OUT, text);
    process.stdout.write(`wrote ${OUT}\n`);
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
