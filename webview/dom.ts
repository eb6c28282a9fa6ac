/** Tiny DOM builder. Text always goes in as text nodes: names come from untrusted model files. */
type Attr = string | number | boolean | undefined | null;
export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, Attr>,
  ...children: Child[]
): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Record<string, Attr>, ...children: Child[]): HTMLElement;
export function h(
  tag: string,
  attrs: Record<string, Attr> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
}

export function icon(name: string, extraClass = ''): HTMLElement {
  return h('span', {
    class: `codicon codicon-${name} ${extraClass}`.trim(),
    'aria-hidden': 'true',
  });
}

/** Replaces an element's children. */
export function setChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** What a panel shows until its first message arrives: a spinner and what it is waiting for. */
export function loadingPlaceholder(text: string): HTMLElement {
  return h(
    'div',
    { class: 'loading' },
    icon('loading', 'codicon-modifier-spin'),
    h('span', {}, text),
  );
}
