// Renders media/icon.png (128×128) from an inline SVG with the system Chromium: a lens over a weight histogram.
import { chromium } from 'playwright-core';

const bars = (x0, width, count, base, scale, fill) =>
  Array.from({ length: count }, (_, i) => {
    const z = (i - (count - 1) / 2) / (count / 5);
    const h = Math.max(3, Math.round(scale * Math.exp((-z * z) / 2)));
    return `<rect x="${x0 + i * width + 1}" y="${base - h}" width="${width - 2}" height="${h}" rx="1.5" fill="${fill}"/>`;
  }).join('');

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">
<defs>
  <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1d4ed8"/><stop offset="1" stop-color="#0b1b3f"/></linearGradient>
  <clipPath id="lens"><circle cx="54" cy="58" r="29"/></clipPath>
</defs>
<rect x="2" y="2" width="124" height="124" rx="26" fill="url(#bg)"/>
<g opacity="0.45">${bars(14, 9, 11, 104, 62, '#7dd3fc')}</g>
<circle cx="54" cy="58" r="29" fill="#07122b"/>
<g clip-path="url(#lens)">${bars(12, 12, 7, 84, 44, '#38bdf8')}<rect x="51" y="30" width="6" height="54" rx="2" fill="#fb923c"/></g>
<circle cx="54" cy="58" r="29" fill="none" stroke="#f1f5f9" stroke-width="7"/>
<line x1="76" y1="80" x2="101" y2="105" stroke="#f1f5f9" stroke-width="12" stroke-linecap="round"/>
</svg>`;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage({ viewport: { width: 128, height: 128 } });
await page.setContent(`<html><body style="margin:0;background:transparent">${svg}</body></html>`);
await page.screenshot({
  path: new URL('../media/icon.png', import.meta.url).pathname,
  omitBackground: true,
});
await browser.close();
