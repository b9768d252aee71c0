// The console's end-to-end test in a real headless chromium, driven by
// playwright-core. Started by tests/all/console.rs, which prepares the runs,
// passes a plan (JSON file, argv[2]) and checks files on disk and journals
// afterwards. Prints one JSON object with what it learned on stdout; any
// failed check throws (exit code 1, the reason on stderr).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { chromium } = await import(
  pathToFileURL(join(process.env.PLAYWRIGHT_DIR, 'node_modules/playwright-core/index.mjs')).href
);

function check(ok, what) {
  if (!ok) throw new Error('check failed: ' + what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const result = {};
const profile = mkdtempSync(join(tmpdir(), 'console-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: plan.chromium,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30000);
  const consoleMessages = [];
  const dialogs = [];
  const pageErrors = [];
  page.on('console', (m) => consoleMessages.push(m.type() + ': ' + m.text()));
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  // Log in with the token: the runs page, with the count in the title.
  await page.goto(plan.login);
  check(page.url() === plan.url + '/', 'login lands on the runs page: ' + page.url());
  check(/^\(\d+\) runs/.test(await page.title()), 'count in the title: ' + (await page.title()));
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'harness_console');
  check(session && session.httpOnly && session.sameSite === 'Strict', 'HttpOnly SameSite=Strict cookie: ' + JSON.stringify(cookies));
  check((await page.evaluate(() => document.cookie)) === '', 'no script can read the session cookie');

  // A reused token, and an expired one (another console, --token-ttl 1).
  let r = await page.goto(plan.login);
  check(r.status() === 403 && (await page.textContent('#message')).includes('already used'), 'reused token refused');
  await sleep(1200);
  r = await page.goto(plan.expired_login);
  check(r.status() === 403 && (await page.textContent('#message')).includes('expired'), 'expired token refused');

  // A run that starts waiting appears without a reload.
  await page.goto(plan.url + '/');
  const before = Number(await page.getAttribute('#waiting', 'data-waiting'));
  await page.evaluate(() => { window.__notReloaded = true; });
  const live = await new Promise((resolve, reject) => {
    const child = spawn(plan.live.argv[0], plan.live.argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      try { resolve(JSON.parse(out).id); } catch (e) { reject(new Error('host run (' + code + '): ' + out)); }
    });
  });
  await page.waitForSelector(`tr[data-run="${live}"]`);
  await page.waitForFunction((n) => document.title.startsWith('(' + n + ')'), before + 1);
  check(await page.evaluate(() => window.__notReloaded === true), 'the page was updated in place');
  result.live = live;
  mkdirSync(plan.screenshots, { recursive: true });
  await page.screenshot({ path: join(plan.screenshots, 'runs.png'), fullPage: true });

  // The diff shows exactly the staged bytes, with their sha256.
  const full = plan.runs.full;
  await page.goto(plan.url + '/runs/' + full.id);
  for (const [path, text] of Object.entries(full.files)) {
    const section = page.locator('section.file', { has: page.locator('code.path', { hasText: path }) });
    const added = await section.locator('pre.diff span.add').allTextContents();
    const shown = added.map((l) => l.slice(1) + '\n').join('');
    check(shown === text, `diff of ${path} shows ${JSON.stringify(shown)}, staged ${JSON.stringify(text)}`);
    const sha = createHash('sha256').update(text).digest('hex');
    check((await section.locator('code.new-sha').textContent()) === sha, 'new sha256 of ' + path);
  }
  await page.screenshot({ path: join(plan.screenshots, 'run.png'), fullPage: true });

  // A POST from the page without the CSRF token is refused.
  const status = await page.evaluate(async (id) => {
    const r = await fetch('/runs/' + id + '/approve', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'digest=' + document.querySelector('input[name=digest]').value,
    });
    return r.status;
  }, full.id);
  check(status === 403, 'POST without CSRF refused: ' + status);

  // Approve the whole change set, with a reason.
  await page.fill('#approve-reason', 'read the diff');
  await Promise.all([page.waitForNavigation(), page.click('#approve')]);
  check((await page.textContent('#notice')).includes('approved by'), 'approve: ' + (await page.textContent('#notice')));

  // Approve a subset: untick the second file.
  await page.goto(plan.url + '/runs/' + plan.runs.subset.id);
  await page.uncheck('input[name=file][value="1"]');
  await Promise.all([page.waitForNavigation(), page.click('#approve')]);
  check((await page.textContent('#notice')).includes('wrote 1 file'), 'subset: ' + (await page.textContent('#notice')));

  // Edit then approve.
  const edit = plan.runs.edit;
  await page.goto(plan.url + '/runs/' + edit.id);
  await page.click('details.edit summary');
  await page.check('input[name=edit][value="0"]');
  await page.fill('textarea[name=text0]', edit.text);
  await Promise.all([page.waitForNavigation(), page.click('#approve')]);
  check((await page.textContent('#notice')).includes('approved by'), 'edit: ' + (await page.textContent('#notice')));

  // Reject with a reason.
  await page.goto(plan.url + '/runs/' + plan.runs.reject.id);
  await page.fill('#reject-reason', 'not this one');
  await Promise.all([page.waitForNavigation(), page.click('#reject')]);
  check((await page.textContent('#notice')).includes('rejected by'), 'reject');

  // Revert the applied run, then approve the revert.
  await page.goto(plan.url + '/runs/' + full.id);
  await Promise.all([page.waitForNavigation(), page.click('#revert')]);
  check((await page.textContent('#notice')).includes('proposes to revert'), 'revert proposed');
  result.revert = await page.getAttribute('#facts', 'data-run');
  check(result.revert !== full.id, 'the revert is a new run');
  await Promise.all([page.waitForNavigation(), page.click('#approve')]);
  check((await page.textContent('#notice')).includes('approved by'), 'revert approved');

  // A hostile run renders inert: no script ran, no element was injected.
  const hostile = plan.runs.hostile;
  consoleMessages.length = 0;
  await page.goto(plan.url + '/runs/' + hostile.id);
  await sleep(500);
  const dom = await page.evaluate(() => ({
    scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
    injected: document.querySelectorAll('img, iframe, object, embed, [onerror], [onload]').length,
    pwned: window.__pwned,
    path: document.querySelector('section.file code.path').textContent,
    findings: document.querySelector('#findings').textContent,
    text: document.body.innerText,
  }));
  check(JSON.stringify(dom.scripts) === JSON.stringify(['/assets/console.js']), 'only console.js: ' + dom.scripts);
  check(dom.injected === 0, 'no injected elements');
  check(dom.pwned === undefined, 'no hostile script ran');
  check(dom.path === hostile.path, 'the path is shown as text: ' + dom.path);
  check(dom.findings.includes('<script>window.__pwned=3</script>'), 'the finding is shown as text: ' + dom.findings);
  check(!/[\u001b\u202e\u202c\u2066\u2069]/.test(dom.text), 'no raw ANSI or bidi character on the page');
  check(dom.text.includes('\\u{001b}[31mred') && dom.text.includes('\\u{202e}gnp.exe'), 'ANSI and bidi made visible');
  check(dialogs.length === 0, 'no dialog: ' + dialogs);
  check(pageErrors.length === 0, 'no page error: ' + pageErrors);
  check(consoleMessages.length === 0, 'nothing on the console: ' + consoleMessages);
  await page.screenshot({ path: join(plan.screenshots, 'hostile-run.png'), fullPage: true });

  // Log out from the header: the browser's cookie no longer opens a page,
  // and a runs page left open in another tab stops its live updates.
  const other = await context.newPage();
  await other.goto(plan.url + '/');
  await Promise.all([page.waitForNavigation(), page.click('header form.logout button')]);
  await other.waitForSelector('#stopped', { timeout: 15000 });
  check((await other.textContent('#stopped')).includes('session ended'), 'the open tab says its updates stopped');
  await other.close();
  check((await page.textContent('#message')).includes('session has ended'), 'logged out: ' + (await page.textContent('#message')));
  const after = await page.goto(plan.url + '/');
  check(after.status() === 401, 'the runs page after logout: ' + after.status());
  result.logged_out = true;
} catch (e) {
  const page = context.pages()[0];
  if (page) process.stderr.write('page at failure (' + page.url() + '):\n' + (await page.evaluate(() => document.body.innerText).catch(() => '')) + '\n');
  throw e;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + '\n');
