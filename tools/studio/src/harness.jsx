// Offline Dashboard Studio harness, bundled by build.sh and loaded by render.js.
//
// 1. Validates the definition as Splunk's editor does: migrate (classic layout -> tabs,
//    legacy viz.* -> splunk.*), JSON schema built from the Enterprise preset (the one
//    with every data source type Splunk Web offers: ds.search, ds.chain, ds.savedSearch,
//    ds.test), plus the framework's own DashboardValidator checks.
// 2. Checks references the schema cannot see (types, data sources, layout items, tokens).
// 3. Renders it with the view-only preset named by input.preset, every data source
//    swapped for ds.test with fixture rows, and signals when the page has settled.
import React from 'react';
import { createRoot } from 'react-dom/client';
import DashboardCore from '@splunk/dashboard-core';
import { DashboardContextProvider } from '@splunk/dashboard-context';
import EnterpriseViewOnlyPreset from '@splunk/dashboard-presets/EnterpriseViewOnlyPreset';
import CloudViewOnlyPreset from '@splunk/dashboard-presets/CloudViewOnlyPreset';
import EnterprisePreset from '@splunk/dashboard-presets/EnterprisePreset';
import { createSchemaBasedOnPresets } from '@splunk/dashboard-definition';
import { DashboardValidator } from '@splunk/dashboard-validation';
import { migrateToTabsLayout, migrateDashboardDefinition } from '@splunk/dashboard-utils';
import SplunkThemeProvider from '@splunk/themes/SplunkThemeProvider';

const input = window.__INPUT__; // { definition, fixtures, theme, preset }
const out = { errors: [], schemaErrors: [], frameworkErrors: [], refErrors: [], warnings: [] };
window.__RESULT__ = out;

const renderPreset = input.preset === 'cloud' ? CloudViewOnlyPreset : EnterpriseViewOnlyPreset;
const schemaPreset = EnterprisePreset;
const keys = (o) => Object.keys(o && typeof o === 'object' ? o : {});
const entries = (o) => Object.entries(o && typeof o === 'object' ? o : {});
const fmtAjv = (e) =>
    `${e.instancePath || '/'} ${e.message || ''}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params).slice(0, 300) : ''}`.trim();

// Item ids of every layout: classic (layout.structure) or tabbed (layout.layoutDefinitions).
function layoutStructures(d) {
    const layout = (d && d.layout) || {};
    if (layout.layoutDefinitions) {
        return entries(layout.layoutDefinitions).map(([id, l]) => [`layout.layoutDefinitions.${id}`, (l && l.structure) || []]);
    }
    return [['layout', layout.structure || []]];
}

// Token references `$name$` / `$name|s$`; `$$` is an escaped dollar sign.
function tokenRefs(text) {
    const found = [];
    const re = /\$([^$\s]+)\$/g;
    let m;
    while ((m = re.exec(String(text)))) found.push(m[1].split('|')[0]);
    return found;
}

function collectStrings(value, acc) {
    if (typeof value === 'string') acc.push(value);
    else if (Array.isArray(value)) value.forEach((v) => collectStrings(v, acc));
    else if (value && typeof value === 'object') Object.values(value).forEach((v) => collectStrings(v, acc));
    return acc;
}

function checkReferences(d) {
    const errs = [];
    const vizTypes = keys(renderPreset.visualizations);
    const inputTypes = keys(renderPreset.inputs);
    const dsTypes = keys(schemaPreset.dataSources);
    const dataSources = d.dataSources || {};
    const visualizations = d.visualizations || {};
    const inputs = d.inputs || {};
    for (const [id, v] of entries(visualizations)) {
        if (!vizTypes.includes(v.type)) errs.push(`visualization ${id}: unknown type ${JSON.stringify(v.type)}`);
        for (const [role, dsId] of entries(v.dataSources))
            if (!dataSources[dsId]) errs.push(`visualization ${id}: dataSources.${role} -> missing data source ${JSON.stringify(dsId)}`);
    }
    for (const [id, i] of entries(inputs)) {
        if (!inputTypes.includes(i.type)) errs.push(`input ${id}: unknown type ${JSON.stringify(i.type)}`);
        for (const [role, dsId] of entries(i.dataSources))
            if (!dataSources[dsId]) errs.push(`input ${id}: dataSources.${role} -> missing data source ${JSON.stringify(dsId)}`);
    }
    for (const [id, ds] of entries(dataSources)) {
        if (!dsTypes.includes(ds.type)) errs.push(`data source ${id}: unknown type ${JSON.stringify(ds.type)}`);
        if (ds.type === 'ds.chain') {
            const base = (ds.options || {}).extend || ds.extend;
            if (!base) errs.push(`data source ${id}: ds.chain without options.extend`);
            else if (!dataSources[base]) errs.push(`data source ${id}: extends missing data source ${JSON.stringify(base)}`);
            // a cycle of chains never runs
            const seen = new Set([id]);
            let cur = base;
            while (cur && dataSources[cur] && dataSources[cur].type === 'ds.chain') {
                if (seen.has(cur)) { errs.push(`data source ${id}: ds.chain cycle through ${cur}`); break; }
                seen.add(cur);
                cur = (dataSources[cur].options || {}).extend || dataSources[cur].extend;
            }
        }
    }
    const placed = new Set();
    for (const [where, structure] of layoutStructures(d)) {
        for (const s of structure) {
            if (!s || !s.item) continue;
            placed.add(s.item);
            if (!visualizations[s.item] && !inputs[s.item]) errs.push(`${where}: unknown item ${JSON.stringify(s.item)}`);
            // the schema lets any value through here; the layout then silently misplaces the item
            for (const k of ['x', 'y', 'w', 'h'])
                if (s.position && k in s.position && !Number.isFinite(s.position[k]))
                    errs.push(`${where}: item ${s.item} position.${k} is not a number: ${JSON.stringify(s.position[k])}`);
        }
    }
    for (const id of (d.layout && d.layout.globalInputs) || []) {
        placed.add(id);
        if (!inputs[id]) errs.push(`layout.globalInputs: unknown input ${JSON.stringify(id)}`);
    }
    for (const id of keys(visualizations))
        if (!placed.has(id)) out.warnings.push(`visualization ${id} is not placed in any layout`);

    // Tokens that data sources wait for: set by an input, a default, or an event handler.
    const defined = new Set(keys(((d.defaults || {}).tokens || {}).default));
    for (const i of Object.values(inputs)) if (i && i.options && i.options.token) defined.add(i.options.token);
    for (const owner of [...Object.values(visualizations), ...Object.values(inputs), ...Object.values(dataSources)])
        for (const h of (owner && owner.eventHandlers) || [])
            for (const t of ((h && h.options) || {}).tokens || []) if (t && t.token) defined.add(t.token);
    const dsDefaults = (d.defaults || {}).dataSources || {};
    for (const [id, ds] of entries(dataSources)) {
        const strings = collectStrings([ds.options, (dsDefaults.global || {}).options, (dsDefaults[ds.type] || {}).options], []);
        for (const ref of new Set(strings.flatMap(tokenRefs))) {
            if (ref.includes(':')) continue; // namespaced: $ds:result.x$, $env:user$, ...
            if (!defined.has(ref) && !defined.has(ref.split('.')[0]))
                errs.push(`data source ${id}: token $${ref}$ is set by no input, default or event handler`);
        }
    }
    return errs;
}

const T = { start: performance.now() };
let migrated = input.definition;
try {
    const schema = createSchemaBasedOnPresets(schemaPreset);
    window.__SCHEMA__ = schema;
    const r = migrateToTabsLayout({ definition: migrated });
    if (r && r.success) migrated = r.definition;
    else out.errors.push('migrateToTabsLayout failed: ' + (r && r.reason));
    out.migration = r && (r.skipped ? 'skipped' : r.success ? 'ok' : 'failed');
    migrated = migrateDashboardDefinition({ definition: migrated, preset: schemaPreset }) || migrated;
    out.definition = migrated;

    // The framework's own validator (what the Studio editor runs): its JSON schema check
    // (ajv, allErrors, ajv-errors messages) and, only when that passes, its structural checks.
    const validator = new DashboardValidator();
    const setErr = validator.setSchema(schema);
    if (setErr) throw setErr;
    for (const e of validator.validate(migrated) || []) {
        if (e.schemaPath || e.keyword) out.schemaErrors.push(fmtAjv(e));
        else out.frameworkErrors.push(`${e.instancePath || ''} ${e.message || JSON.stringify(e)}`.trim());
    }
    T.framework = performance.now();
    out.refErrors = checkReferences(input.definition);
} catch (e) {
    out.errors.push('validation crashed: ' + (e && e.stack ? e.stack : e));
}

// Swap every data source (search, chain, saved search) for its fixture rows.
const def = JSON.parse(JSON.stringify(migrated));
for (const [id, ds] of entries(def.dataSources)) {
    const fx = (input.fixtures || {})[id];
    def.dataSources[id] = { type: 'ds.test', options: { data: fx || { fields: [], columns: [] } } };
    if (typeof ds.name === 'string') def.dataSources[id].name = ds.name;
}
// ds.search defaults (queryParameters with tokens) no longer apply.
if (def.defaults && def.defaults.dataSources) delete def.defaults.dataSources;

window.addEventListener('error', (e) => out.errors.push('window error: ' + e.message));
window.addEventListener('unhandledrejection', (e) => out.errors.push('unhandled rejection: ' + String(e.reason)));
const root = createRoot(document.getElementById('root'));
root.render(
    <SplunkThemeProvider family="enterprise" colorScheme={input.theme || 'light'} density="comfortable">
        <DashboardContextProvider preset={renderPreset} initialDefinition={def}>
            <DashboardCore width="100%" height="100%" />
        </DashboardContextProvider>
    </SplunkThemeProvider>
);
out.mounted = true;
// ms since navigation: bundle parsed and run, definition validated, React mounted
out.harnessMs = { bundle: Math.round(T.start), validated: Math.round(T.framework || 0), mounted: Math.round(performance.now()) };
