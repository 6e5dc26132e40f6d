// Lighthouse (mobile preset) on a room the way a person sees it: signed in
// with a name, then the room opened.
import puppeteer from 'puppeteer-core';
import {startFlow} from 'lighthouse';
import fs from 'fs';

const base = process.argv[2];
const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage();
await page.goto(`${base}/login`);
await page.waitForSelector('#username');
await page.type('#username', 'lighthouse');
await page.click('.login-card button[type=submit]');
await page.waitForSelector('.status[data-state="online"]');
const flow = await startFlow(page, {
  config: {extends: 'lighthouse:default', settings: {
    onlyCategories: ['performance', 'accessibility', 'best-practices', 'seo'],
    disableStorageReset: true,
  }},
});
await flow.navigate(`${base}/r/lobby`);
const result = (await flow.createFlowResult()).steps[0].lhr;
fs.writeFileSync(process.argv[3], JSON.stringify(result));
await browser.close();
