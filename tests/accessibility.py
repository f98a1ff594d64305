"""Accessibility checks shared by the browser tests: the email, and every page a reader may open."""

from __future__ import annotations

CONTRAST_JS = """
() => {
  function rgb(s) { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; }
  function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); }
  function background(el) { for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor); if (c && c.a > 0) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; }
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.offsetParent === null) continue;
    const fg = rgb(getComputedStyle(el).color), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    out.push({text: el.textContent.trim().slice(0, 40), ratio: (a + 0.05) / (b + 0.05)});
  }
  return out;
}
"""

# Form controls and links that a screen reader would announce without a name.
UNNAMED_JS = """
() => [...document.querySelectorAll('button, input:not([type=hidden]), select, textarea, a[href]')]
  .filter(el => !((el.innerText || '').trim() || el.getAttribute('aria-label') || el.value ||
                  (el.labels && el.labels.length) || el.getAttribute('title')))
  .map(el => el.outerHTML.slice(0, 80))
"""


def findings(page) -> dict:
    """What the email's checks look at, for an open page: lang, low-contrast text, heading order, alt, names."""
    levels = page.eval_on_selector_all("h1,h2,h3,h4,h5,h6", "els => els.map(e => Number(e.tagName[1]))")
    return {
        "lang": page.evaluate("document.documentElement.lang"),
        "low_contrast": [item for item in page.evaluate(CONTRAST_JS) if item["ratio"] < 4.5],
        "first_heading": levels[0] if levels else None,
        "heading_jumps": [(a, b) for a, b in zip(levels, levels[1:]) if b - a > 1],
        "images_without_alt": page.eval_on_selector_all("img", "els => els.filter(e => !e.hasAttribute('alt')).length"),
        "unnamed_controls": page.evaluate(UNNAMED_JS),
    }
