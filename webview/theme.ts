/** Colours for canvas drawing, read from the --vscode-* variables VS Code injects. */
export interface ChartColors {
  bar: string;
  barHover: string;
  axis: string;
  grid: string;
  text: string;
  zero: string;
  font: string;
}

export function chartColors(): ChartColors {
  const style = getComputedStyle(document.body);
  const v = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  const fg = v('--vscode-foreground', style.color);
  const family = v('--vscode-font-family', 'sans-serif');
  return {
    bar: v('--vscode-charts-blue', fg),
    barHover: v('--vscode-charts-orange', fg),
    axis: v('--vscode-charts-lines', v('--vscode-descriptionForeground', fg)),
    grid: v(
      '--vscode-editorIndentGuide-background1',
      v('--vscode-widget-border', 'rgba(128,128,128,0.25)'),
    ),
    text: v('--vscode-descriptionForeground', fg),
    zero: v('--vscode-charts-red', fg),
    font: `11px ${family}`,
  };
}

/** Calls back when VS Code switches theme (body class) or re-injects variables (html style). */
export function onThemeChange(callback: () => void): void {
  let scheduled = false;
  const fire = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      callback();
    });
  };
  const observer = new MutationObserver(fire);
  observer.observe(document.body, {
    attributes: true,
    attributeFilter: ['class', 'data-vscode-theme-kind'],
  });
  observer.observe(document.documentElement, {
    attributes: true,
    attributeFilter: ['style', 'class'],
  });
}

/** Calls back when the device pixel ratio changes (zoom, moving to another monitor). */
export function onPixelRatioChange(callback: () => void): void {
  const watch = () => {
    matchMedia(`(resolution: ${devicePixelRatio}dppx)`).addEventListener(
      'change',
      () => {
        callback();
        watch();
      },
      { once: true },
    );
  };
  watch();
}
