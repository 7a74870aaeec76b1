// Validate and screenshot one Dashboard Studio definition offline.
//
// Usage: node render.js DEFINITION.json FIXTURES.json OUT.png
// (a view's .xml goes through render_dashboard.py, which extracts its definition and theme)
//
// Environment:
//   PRESET       cloud (default) or enterprise: the view-only preset that renders
//   THEME        light (default) or dark
//   DUMP_SCHEMA  write the dashboard JSON schema (Draft 7) to this path
//   CHROMIUM     browser binary; else the first of /usr/bin/chromium, /usr/bin/chromium-browser, ...
//   WIDTH        viewport width in px (default 1440)
//   TIMEOUT_MS   longest wait for the dashboard to settle (default 30000)
//
// Prints one JSON object on stdout (see README.md); exits 0 when it could render, whatever
// it found; 2 on bad input, 3 when the browser or harness failed, 4 without a browser.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { pathToFileURL } = require('url');

const CHROMIUM_CANDIDATES = [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/lib/chromium/chromium',
    '/snap/bin/chromium',
];
// Viz types with no content of their own: a uniform box is what they should look like.
const SHAPES = new Set(['splunk.rectangle', 'splunk.ellipse', 'abslayout.line', 'splunk.image']);
const QUIET_MS = 600; // no DOM change for this long = settled
const GIVE_UP_QUIET_MS = 3000; // ...and with visualizations still missing, stop waiting
const MIN_COLORS = 4; // fewer distinct colours in a visualization's box = blank

function fail(code, message, extra = {}) {
    console.log(JSON.stringify({ errors: [message], ...extra }, null, 1));
    process.exit(code);
}

function findChromium() {
    if (process.env.CHROMIUM) {
        if (!fs.existsSync(process.env.CHROMIUM)) fail(4, `CHROMIUM=${process.env.CHROMIUM} does not exist`);
        return process.env.CHROMIUM;
    }
    const found = CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p));
    if (!found) fail(4, `no Chromium found (tried ${CHROMIUM_CANDIDATES.join(', ')}); install it (Debian: apt-get install -y chromium) or set CHROMIUM`);
    return found;
}

function readInput(file) {
    if (!file.endsWith('.json')) fail(2, `${file}: give a .json definition; a view's .xml goes through render_dashboard.py`);
    return { definitionText: fs.readFileSync(file, 'utf8'), theme: process.env.THEME || 'light' };
}

async function waitSettled(page, expected, deadline) {
    // Resolves when every expected visualization is in the DOM and nothing changed for QUIET_MS.
    for (;;) {
        const state = await page.evaluate((ids) => {
            const missing = ids.filter((id) => !document.querySelector(`[data-test="viz-item"][data-id="${CSS.escape(id)}"]`));
            return { missing, quietFor: Date.now() - window.__LAST_MUTATION__ };
        }, expected);
        if (state.missing.length === 0 && state.quietFor >= QUIET_MS) return [];
        if (state.quietFor >= GIVE_UP_QUIET_MS || Date.now() > deadline) return state.missing;
        await new Promise((r) => setTimeout(r, 100));
    }
}

(async () => {
    const [inputPath, fxPath, outPng] = process.argv.slice(2);
    if (!inputPath || !outPng) fail(2, 'usage: node render.js DASHBOARD.xml|DEFINITION.json FIXTURES.json OUT.png');
    const t0 = Date.now();
    const timeouts = Number(process.env.TIMEOUT_MS || 30000);
    const width = Number(process.env.WIDTH || 1440);
    const preset = process.env.PRESET || 'cloud';
    const { definitionText, theme } = readInput(inputPath);
    let definition;
    try {
        definition = JSON.parse(definitionText);
    } catch (e) {
        fail(2, `definition is not JSON: ${e.message}`, { jsonError: e.message });
    }
    const fixtures = fxPath && fxPath !== '-' ? JSON.parse(fs.readFileSync(fxPath, 'utf8')) : {};
    const chromium = findChromium();

    const dist = path.join(__dirname, 'dist');
    if (!fs.existsSync(path.join(dist, 'harness.js'))) fail(3, `${dist}/harness.js missing: run bash build.sh`);
    const puppeteer = require('puppeteer-core');
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'studio-render-'));
    // The page loads harness.js/css from dist/ by absolute file URL; its own HTML is per run.
    const pageHtml = path.join(work, 'page.html');
    const inputJson = JSON.stringify({ definition, fixtures, theme, preset }).replace(/</g, '\\u003c');
    fs.writeFileSync(pageHtml, `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="${pathToFileURL(path.join(dist, 'harness.css'))}">
<style>html,body,#root{margin:0;height:100%;}</style></head><body><div id="root"></div>
<script>window.__INPUT__=${inputJson};
window.__LAST_MUTATION__=Date.now();
new MutationObserver(()=>{window.__LAST_MUTATION__=Date.now();}).observe(document,{subtree:true,childList:true,attributes:true,characterData:true});</script>
<script src="${pathToFileURL(path.join(dist, 'harness.js'))}"></script></body></html>`);

    const timings = {};
    const browser = await puppeteer.launch({
        executablePath: chromium,
        headless: true,
        userDataDir: path.join(work, 'profile'),
        args: [
            '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--allow-file-access-from-files',
            '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--disable-default-apps', '--disable-extensions', '--mute-audio',
            // nothing may leave the machine: every host name fails to resolve
            '--host-resolver-rules=MAP * ~NOTFOUND',
        ],
    }).catch((e) => {
        fs.rmSync(work, { recursive: true, force: true });
        fail(3, `could not start ${chromium}: ${String(e).slice(0, 1000)}`);
    });
    const result = { chromium, chromiumVersion: await browser.version(), preset, theme };
    try {
        timings.launch = Date.now() - t0;
        const page = await browser.newPage();
        const consoleErrors = [], consoleWarnings = [], externalRequests = [], failedRequests = [];
        page.on('console', (msg) => {
            const text = msg.text().slice(0, 500);
            if (msg.type() === 'error') consoleErrors.push(text);
            else if (msg.type() === 'warn' && !text.startsWith('strict mode:')) consoleWarnings.push(text);
        });
        page.on('pageerror', (err) => consoleErrors.push('pageerror: ' + String(err).slice(0, 500)));
        await page.setRequestInterception(true);
        page.on('request', (r) => {
            const scheme = r.url().split(':')[0];
            if (['file', 'data', 'blob'].includes(scheme)) return r.continue();
            externalRequests.push(r.url().slice(0, 300));
            return r.abort('blockedbyclient');
        });
        page.on('requestfailed', (r) => {
            const scheme = r.url().split(':')[0];
            if (['file', 'data', 'blob'].includes(scheme)) failedRequests.push(`${r.url().slice(0, 300)}: ${r.failure() && r.failure().errorText}`);
        });
        await page.setViewport({ width, height: 900 });
        await page.goto(pathToFileURL(pageHtml).href, { waitUntil: 'load', timeout: timeouts });
        timings.load = Date.now() - t0;
        const harness = await page.evaluate(() => window.__RESULT__ || null);
        if (!harness || !harness.mounted) throw new Error('harness did not start: ' + JSON.stringify(harness && harness.errors));
        Object.assign(result, harness);
        if (process.env.DUMP_SCHEMA) {
            const schema = await page.evaluate(() => window.__SCHEMA__ || null);
            if (schema) fs.writeFileSync(process.env.DUMP_SCHEMA, JSON.stringify(schema, null, 1));
        }

        // The visualizations the first (visible) tab should show.
        const expected = await page.evaluate(() => {
            const d = window.__RESULT__.definition || {};
            const layout = d.layout || {};
            const tabs = (layout.tabs && layout.tabs.items) || [];
            const first = layout.layoutDefinitions && tabs.length ? layout.layoutDefinitions[tabs[0].layoutId] : layout;
            return ((first && first.structure) || []).map((s) => s.item).filter((id) => (d.visualizations || {})[id]);
        });
        const deadline = Date.now() + timeouts;
        let missing = await waitSettled(page, expected, deadline);
        // Paint the page behind the dashboard in the dashboard's own background colour, and
        // note the tabs (only the first one is drawn).
        Object.assign(result, await page.evaluate(() => {
            const opaque = (c) => c && c !== 'transparent' && !/rgba\(.*, 0\)$/.test(c);
            const bg = Array.from(document.querySelectorAll('[data-layout-type], [data-test$="layout-canvas"]'))
                .map((el) => getComputedStyle(el).backgroundColor).find(opaque);
            if (bg) document.documentElement.style.background = document.body.style.background = bg;
            const layout = (window.__RESULT__.definition || {}).layout || {};
            return { tabs: ((layout.tabs && layout.tabs.items) || []).map((t) => t.label || t.layoutId) };
        }));
        // Grow the viewport to the whole dashboard (a fullPage screenshot would resize it
        // mid-capture and catch the charts redrawing), then let it settle again.
        // The dashboard scrolls inside its own container: measure what it lays out.
        const height = await page.evaluate(() => {
            const els = document.querySelectorAll('[data-test="viz-item"], [data-test="grid-layout-canvas"], [data-layout-type], [data-test="LayoutContainer"] > *');
            let bottom = 0;
            for (const el of els) bottom = Math.max(bottom, el.getBoundingClientRect().bottom, el.getBoundingClientRect().top + el.scrollHeight);
            return Math.ceil(bottom) + 8;
        });
        result.contentHeight = height;
        if (height !== 900) {
            await page.setViewport({ width, height: Math.max(200, Math.min(height, 10000)) });
            missing = await waitSettled(page, expected, deadline);
        }
        timings.settled = Date.now() - t0;

        const vizBoxes = await page.evaluate(() => {
            const rect = (el) => {
                const r = el.getBoundingClientRect();
                return { x: Math.round(r.x), y: Math.round(r.y), width: Math.round(r.width), height: Math.round(r.height) };
            };
            const text = (el) => (el ? (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 200) : '');
            return Array.from(document.querySelectorAll('[data-test="viz-item"]')).map((el) => {
                const body = el.querySelector('[data-test="viz-size-wrapper"]') || el;
                return {
                    id: el.getAttribute('data-id'),
                    type: el.getAttribute('data-viz-type'),
                    ...rect(el),
                    body: rect(body),
                    // status icon and menu are drawn even when the visualization is empty
                    exclude: Array.from(el.querySelectorAll('[data-test="status-icon-container"], [data-test="action-menu-wrapper"]')).map(rect),
                    text: text(el),
                    // an error box ("splunk.x is not defined", data source errors)
                    error: text(el.querySelector('[data-test="dashboard-message"]')),
                    // a status placeholder ("No search results returned", "Waiting for input")
                    message: text(el.querySelector('[data-test="viz-waiting-for-input-message"]')),
                    // the grey placeholder drawn while no data has arrived
                    placeholder: !!el.querySelector('[data-test="icon-placeholder"], [data-test="placeholder-icon"]'),
                };
            });
        });
        const png = await page.screenshot({ path: outPng, fullPage: false });
        timings.screenshot = Date.now() - t0;

        // Count distinct colours inside each visualization's body in the screenshot itself
        // (less the status icon and menu): an empty body is one or two colours.
        const colors = await page.evaluate(async (b64, boxes) => {
            const img = new Image();
            img.src = 'data:image/png;base64,' + b64;
            await img.decode();
            const c = document.createElement('canvas');
            c.width = img.width; c.height = img.height;
            const ctx = c.getContext('2d', { willReadFrequently: true });
            ctx.drawImage(img, 0, 0);
            const count = (b, exclude) => {
                const x0 = Math.max(b.x, 0), y0 = Math.max(b.y, 0);
                const w = Math.min(b.x + b.width, img.width) - x0, h = Math.min(b.y + b.height, img.height) - y0;
                if (w <= 0 || h <= 0) return 0;
                const data = ctx.getImageData(x0, y0, w, h).data, seen = new Set();
                for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
                    const px = x0 + x, py = y0 + y;
                    if (exclude.some((e) => px >= e.x && px < e.x + e.width && py >= e.y && py < e.y + e.height)) continue;
                    const i = (y * w + x) * 4;
                    seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
                }
                return seen.size;
            };
            return { image: { width: img.width, height: img.height, colors: count({ x: 0, y: 0, width: img.width, height: img.height }, []) },
                boxes: boxes.map((b) => count(b.body, b.exclude)) };
        }, Buffer.from(png).toString('base64'), vizBoxes);

        result.visualizations = vizBoxes.map(({ body, exclude, ...b }, i) => ({ ...b, colors: colors.boxes[i],
            blank: !SHAPES.has(b.type) && colors.boxes[i] < MIN_COLORS }));
        result.missingVisualizations = missing;
        result.png = { path: outPng, bytes: fs.statSync(outPng).size, ...colors.image };
        const inputs = await page.evaluate(() => document.querySelectorAll('[data-test="input-layout-item"], [data-input-type]').length);
        result.inputsInDom = inputs;
        // errors pushed by the harness after the first read (window errors, rejections)
        result.errors = (await page.evaluate(() => window.__RESULT__.errors)) || result.errors;
        Object.assign(result, { consoleErrors, consoleWarnings: [...new Set(consoleWarnings)].slice(0, 20), externalRequests, failedRequests });
    } catch (e) {
        result.errors = [...(result.errors || []), 'render failed: ' + (e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e)];
        await browser.close();
        fs.rmSync(work, { recursive: true, force: true });
        result.ms = Date.now() - t0;
        console.log(JSON.stringify(result, null, 1));
        process.exit(3);
    }
    await browser.close();
    fs.rmSync(work, { recursive: true, force: true });
    delete result.mounted;
    timings.total = Date.now() - t0;
    result.timings = timings;
    result.ms = timings.total;
    console.log(JSON.stringify(result, null, 1));
})().catch((e) => fail(3, 'render.js crashed: ' + (e && e.stack ? e.stack : e)));
