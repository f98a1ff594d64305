// The preview page: shows the last good build, reloads it when the server's epoch moves (long-poll).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const frames = [$("frame-desktop"), $("frame-phone")];
  const markers = $("markers");
  const dark = $("dark");
  let instance = null;
  let epoch = null;

  const remembered = (key, fallback) => {
    try {
      const value = localStorage.getItem("nyhetsbrev-preview-" + key);
      return value === null ? fallback : value === "1";
    } catch (e) { return fallback; }
  };
  const remember = (key, value) => {
    try { localStorage.setItem("nyhetsbrev-preview-" + key, value ? "1" : "0"); } catch (e) { /* private mode */ }
  };
  markers.checked = remembered("markers", true);
  dark.checked = remembered("dark", false);

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };
  // The page's words in the interface language: the server puts them in #texts (English when a text is missing).
  let texts = {};
  try { texts = JSON.parse($("texts").textContent || "{}"); } catch (e) { /* English */ }
  const t = (text, values = {}) => (texts[text] || text).replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));

  function setStatus(kind, text) {
    const status = $("status");
    status.className = "status " + kind;
    status.textContent = text;
  }

  // Frames grow to the email's height so the page scrolls as one and both widths line up.
  function fit(frame) {
    try {
      const doc = frame.contentDocument;
      if (!doc || !doc.documentElement) return;
      const height = Math.ceil(doc.documentElement.getBoundingClientRect().height);
      if (height > 0) frame.style.height = height + 20 + "px";
    } catch (e) { /* not loaded yet */ }
  }
  for (const frame of frames) {
    frame.addEventListener("load", () => {
      fit(frame);
      try {
        new ResizeObserver(() => fit(frame)).observe(frame.contentDocument.documentElement);
      } catch (e) { /* older browsers: height from load only */ }
    });
  }

  function loadFrames() {
    const url = `/email.html?v=${epoch}&markers=${markers.checked ? 1 : 0}&dark=${dark.checked ? 1 : 0}`;
    for (const frame of frames) frame.src = url;
  }

  // "file:line" of an error or a problem ("" when it has no file).
  function place(found) {
    return found.file ? (found.line ? `${found.file}:${found.line}` : found.file) : "";
  }

  function showError(error, build) {
    const box = $("error");
    box.hidden = !error;
    if (!error) return;
    $("error-where").textContent = place(error);
    $("error-what").textContent = error.what;
    $("error-hint").textContent = error.hint ? `${error.hint}.` : "";
    $("error-note").textContent = build
      ? t("Still showing the last good build ({time}). Fix the file and save it: the preview rebuilds by itself.", { time: build.built_time })
      : t("Nothing to show yet. Fix the file and save it: the preview rebuilds by itself.");
  }

  function showInbox(build) {
    $("inbox-from").textContent = build.sender;
    $("inbox-from-line").textContent = build.sender;
    $("inbox-date").textContent = build.date;
    $("inbox-subject").textContent = build.subject || t("(no subject)");
    $("inbox-subject-line").textContent = build.subject || t("(no subject)");
    $("inbox-preheader").textContent = build.preheader || t("(no preheader: the inbox shows the email's first words)");
    $("inbox-preheader-line").textContent = build.preheader ? "– " + build.preheader : "";
  }

  function showProblems(problems) {
    const list = $("problems");
    list.replaceChildren();
    const errors = problems.filter((p) => p.level === "error").length;
    const warnings = problems.length - errors;
    const count = (n, one, many) => t(n === 1 ? one : many, { count: n });
    $("problem-count").textContent = problems.length
      ? `(${count(errors, "{count} error", "{count} errors")}, ${count(warnings, "{count} warning", "{count} warnings")})` : "";
    if (!problems.length) {
      list.append(el("li", "none", t("No errors or warnings.")));
      return;
    }
    for (const problem of problems) {
      const item = el("li", problem.level);
      if (problem.file) item.append(el("span", "where", place(problem)));
      item.append(el("span", null, `${t(problem.level + ":")} ${problem.message}`));
      list.append(item);
    }
  }

  function showSections(sections) {
    const list = $("sections");
    list.replaceChildren();
    for (const section of sections) {
      const item = el("li", section.audience.length ? "limited" : null);
      item.append(el("span", "file", section.file));
      item.append(el("span", "title", section.title || t("(no heading)")));
      item.append(document.createElement("br"));
      if (section.audience.length) item.append(el("span", "audience", t("Only for: ") + section.audience.join(", ")));
      else item.append(el("span", "everyone", t("Everyone")));
      list.append(item);
    }
  }

  function show(state) {
    $("issue").textContent = t("Preview {issue}", { issue: state.issue });
    document.title = t("{issue} – preview – nyhetsbrev", { issue: state.issue });
    const build = state.build;
    showError(state.error, build);
    showProblems(state.problems);  // the error that stopped the last build, else the build's check
    if (build) {
      showInbox(build);
      showSections(build.sections);
      $("text").textContent = build.text;
      $("built").textContent = t("built {time} in {ms} ms", { time: build.built_time, ms: Math.round(build.build_ms) });
    }
    setStatus(state.error ? "failed" : "live", state.error ? t("build failed") : t("live"));
  }

  async function refresh() {
    const response = await fetch("/api/state", { cache: "no-store" });
    const state = await response.json();
    if (instance !== null && state.instance !== instance) {
      location.reload();  // the preview was restarted
      return;
    }
    instance = state.instance;
    epoch = state.epoch;
    show(state);
    loadFrames();
  }

  async function watch() {
    for (;;) {
      try {
        const response = await fetch(`/api/wait?epoch=${epoch}`, { cache: "no-store" });
        if (!response.ok) throw new Error(String(response.status));
        const answer = await response.json();
        if (answer.instance !== instance) { location.reload(); return; }
        if (answer.epoch !== epoch) await refresh();
        else if ($("status").classList.contains("offline")) await refresh();
      } catch (e) {
        setStatus("offline", t("preview stopped – run nyhetsbrev preview again"));
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  function selectTab(name) {
    for (const button of document.querySelectorAll("[role=tab]")) {
      const selected = button.dataset.tab === name;
      button.setAttribute("aria-selected", String(selected));
      $("tab-" + button.dataset.tab).hidden = !selected;
    }
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
  }
  for (const button of document.querySelectorAll("[role=tab]")) {
    button.addEventListener("click", () => selectTab(button.dataset.tab));
  }
  selectTab(location.hash === "#text" ? "text" : "email");

  for (const box of [markers, dark]) {
    box.addEventListener("change", () => {
      remember(box.id, box.checked);
      loadFrames();
    });
  }

  (async () => {
    for (;;) {
      try { await refresh(); break; } catch (e) {
        setStatus("offline", t("cannot reach the preview server"));
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    watch();
  })();
})();
