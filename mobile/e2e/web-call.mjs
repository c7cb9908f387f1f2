// The exported web app in Debian's Chromium against the real stack (livekit-server, Agent
// Server, token service): sign in, call, a typed conversation with handoffs on lk.chat,
// transcript and specialist card, a card lock confirmed on the app's confirmation sheet
// (the agent asks over RPC), hang up, call again. A screenshot per step.
//
// env: APP_URL (the served export; /api/token on the same origin), ARTIFACTS_DIR,
//      CHROMIUM_PATH (default: `chromium` on PATH), CUSTOMER_NUMBER, PIN,
//      FAKE_AUDIO_WAV (optional: the microphone plays this file).
// Prints one `step: ...` line per step and `web-call: ok` at the end; exits non-zero on failure.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const appUrl = process.env.APP_URL;
if (!appUrl) throw new Error('APP_URL is required');
const artifacts = process.env.ARTIFACTS_DIR ?? path.resolve('e2e/artifacts');
const customerNumber = process.env.CUSTOMER_NUMBER ?? '1001';
const pin = process.env.PIN ?? '1234';
const executablePath =
  process.env.CHROMIUM_PATH || execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
const STEP_TIMEOUT = Number(process.env.STEP_TIMEOUT_MS ?? 60_000);

mkdirSync(artifacts, { recursive: true });

// What this closed network needs (no GPU, no outside calls), plus a fake microphone.
const args = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];
if (process.env.FAKE_AUDIO_WAV) args.push(`--use-file-for-fake-audio-capture=${process.env.FAKE_AUDIO_WAV}`);

// launch() gives every run a fresh temporary profile (its own --user-data-dir).
const browser = await chromium.launch({ executablePath, headless: true, args });
let page;
let shot = 0;
const roomNames = [];

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
  } finally {
    shot += 1;
    const file = path.join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page?.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    console.log(`step: ${name} (${Date.now() - started} ms) -> ${file}`);
  }
}

const byTestId = (id) => page.locator(`[data-testid="${id}"]`);
const specialist = () => byTestId('specialist-label');
const agentLines = () => byTestId('transcript-line-agent');

async function expectText(locator, pattern) {
  await locator.filter({ hasText: pattern }).first().waitFor({ timeout: STEP_TIMEOUT });
}

async function say(text) {
  const before = await agentLines().count();
  await byTestId('chat-input').fill(text);
  await byTestId('chat-send-button').click();
  await expectText(byTestId('transcript-line-customer'), text);
  return before;
}

/** An agent line matching `pattern` among those after position `after`. */
async function reply(after, pattern) {
  await page.waitForFunction(
    ({ after, source }) => {
      const lines = [...document.querySelectorAll('[data-testid="transcript-line-agent"]')];
      return lines.slice(after).some((l) => new RegExp(source, 'i').test(l.textContent ?? ''));
    },
    { after, source: pattern.source },
    { timeout: STEP_TIMEOUT },
  );
}

async function waitForCallReady() {
  // A cold agent process on a loaded box: the export waits up to 90 s for the agent.
  await byTestId('agent-status-label')
    .filter({ hasText: /Listening|Speaking|Thinking/ })
    .first()
    .waitFor({ timeout: 120_000 });
  await expectText(specialist(), /Greeter/);
  await agentLines().first().waitFor({ timeout: STEP_TIMEOUT }); // the greeting
}

try {
  const context = await browser.newContext({ viewport: { width: 480, height: 900 } });
  await context.grantPermissions(['microphone']);
  page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.log(`browser console: ${msg.text().slice(0, 300)}`);
  });
  // Note each call's room (never the token) to prove "call again" gets a new one.
  page.on('response', async (response) => {
    if (!response.url().endsWith('/api/token') || response.status() !== 200) return;
    const body = await response.json().catch(() => ({}));
    if (body.room_name) roomNames.push(body.room_name);
  });

  await step('sign-in', async () => {
    await page.goto(appUrl);
    await page.getByLabel('Customer number').fill(customerNumber);
    await page.getByLabel('PIN').fill(pin);
  });

  await step('call-started', async () => {
    await page.getByRole('button', { name: /sign in and call/i }).click();
    await waitForCallReady();
  });

  await step('balance-desk', async () => {
    const mark = await say("What's my balance?");
    await reply(mark, /available balance/);
    await expectText(specialist(), /^Balance$/);
    await expectText(byTestId('transcript-speaker'), /^Balance$/);
  });

  await step('card-security-desk', async () => {
    const mark = await say('I want to lock my debit card');
    await reply(mark, /4242/);
    await expectText(specialist(), /Card security/);
    await expectText(byTestId('transcript-speaker'), /Card security/);
    // The agent asks the app to confirm the read-back: the sheet names the same card.
    await expectText(byTestId('confirm-sheet-title'), /Lock the card ending 4242\?/);
  });

  await step('confirmed-on-screen', async () => {
    const before = await agentLines().count();
    await page.getByRole('button', { name: 'Confirm: Lock the card ending 4242' }).click();
    await reply(before, /locked/);
    await byTestId('confirm-sheet').waitFor({ state: 'detached', timeout: STEP_TIMEOUT });
  });

  await step('hung-up', async () => {
    await byTestId('end-call-button').click();
    await expectText(byTestId('agent-status-label'), /Call ended/);
    await expectText(specialist(), /Call ended/);
    // The transcript stays after the call.
    await expectText(agentLines(), /4242/);
  });

  await step('called-again', async () => {
    await byTestId('call-again-button').click();
    await waitForCallReady();
    const mark = await say("What's my balance?");
    await reply(mark, /available balance/);
    await expectText(specialist(), /^Balance$/);
  });

  if (roomNames.length !== 2 || roomNames[0] === roomNames[1]) {
    throw new Error(`expected two different rooms, got ${JSON.stringify(roomNames)}`);
  }
  console.log(`rooms: ${roomNames.join(' ')}`);
  console.log('web-call: ok');
} catch (error) {
  console.error(`web-call: FAILED: ${error?.stack ?? error}`);
  if (page) {
    const lines = await page.locator('[data-testid^="transcript-line-"]').allTextContents().catch(() => []);
    console.error(`transcript:\n  ${lines.join('\n  ')}`);
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
