// The replay page's search box: the text read on the session's screen (its text index,
// TEXT.entries: text, norm, t, rect), searched here in the page, as `recorder search`
// searches the index: words on one line, "phrases", prefix*, case and O/0, l/1/I alike.
// Hits are marks on the timeline and rows above the event list; the rectangle where the
// text was read is outlined over the picture while that moment is shown.
// Inlined after the page's own script (playback/text_hits.py), whose globals it uses.
"use strict";
(function () {
  const entries = TEXT.entries;
  const OUTLINE_FOR = 2;  // seconds after the moment it was read that a hit stays outlined
  let hits = [], hitEls = [], chosen = null;

  // -- the query, as store/text_norm.py and store/text_search.py read it --------------------
  function normalize(text) {
    return text.toLowerCase().replace(/ß/g, "ss").replace(/o/g, "0").replace(/[li|]/g, "1");
  }
  // the index's tokenizer (unicode61, remove_diacritics): letters and digits, accents dropped
  function tokens(text) {
    return text.normalize("NFD").replace(/\p{M}/gu, "").split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  }
  function parse(query) {
    const terms = [];
    for (const m of query.matchAll(/"([^"]*)"(\*?)|([^\s"]+)/g)) {
      const words = m[3] !== undefined ? m[3].replace(/\*+$/, "") : m[1];
      const prefix = m[3] !== undefined ? m[3].endsWith("*") : m[2] === "*";
      const t = tokens(normalize(words));
      if (t.length) terms.push({tokens: t, prefix});
    }
    return terms;
  }
  function has(line, term) {
    const n = term.tokens.length;
    for (let i = 0; i + n <= line.length; i++) {
      let ok = true;
      for (let k = 0; k < n && ok; k++) {
        const last = k === n - 1 && term.prefix;
        ok = last ? line[i + k].startsWith(term.tokens[k]) : line[i + k] === term.tokens[k];
      }
      if (ok) return true;
    }
    return false;
  }
  const lineTokens = entries.map(e => tokens(e.norm));
  function find(query) {
    const terms = parse(query);
    if (!terms.length) return [];
    return entries.filter((e, i) => terms.every(term => has(lineTokens[i], term)));
  }

  // -- the box, the marks, the rows ----------------------------------------------------------
  const style = document.createElement("style");
  style.textContent = `
    #search-box { display: flex; gap: 6px; align-items: center; padding: 8px 10px; border-bottom: 1px solid #2a2d36; }
    #search { flex: 1; background: #2d313b; color: var(--text); border: 1px solid #3a3f4b; border-radius: 4px;
              padding: 3px 8px; font: inherit; }
    #search-count { color: var(--dim); white-space: nowrap; }
    .hit { position: absolute; bottom: 0; width: 3px; height: 12px; margin-left: -1px; background: #ffd23f;
           pointer-events: none; }
    #found { border-collapse: collapse; width: 100%; }
    #found td { padding: 3px 8px; border-bottom: 1px solid #2a2d36; vertical-align: top; }
    #found tr { cursor: pointer; background: #2b2a1e; }
    #found tr.current { background: #4a4420; }
    #found td.t { color: var(--dim); font-variant-numeric: tabular-nums; white-space: nowrap; }
    #outline { position: absolute; border: 2px solid #ffd23f; box-shadow: 0 0 0 2px #000a; pointer-events: none;
               z-index: 1; }`;
  document.head.append(style);
  const box = document.createElement("div");
  box.id = "search-box";
  const input = document.createElement("input");
  input.id = "search"; input.type = "search"; input.placeholder = "Search the text on screen";
  input.title = 'Words on one line, "a phrase", a prefix*; Enter: the next hit';
  input.setAttribute("aria-label", "Search the text on screen");
  const count = document.createElement("span");
  count.id = "search-count";
  count.textContent = entries.length ? "" : "no text index";
  input.disabled = !entries.length;
  box.append(input, count);
  const found = document.createElement("table");
  found.id = "found";
  $("side").insertBefore(box, $("kinds"));
  $("list").insertBefore(found, $("events"));
  const outline = document.createElement("div");
  outline.id = "outline"; outline.className = "hidden";
  stage.append(outline);

  function show(query) {
    hits = find(query);
    for (const el of hitEls) el.remove();
    hitEls = [];
    found.replaceChildren();
    chosen = null;
    count.textContent = query.trim() ? hits.length + " hit(s)" : "";
    hits.forEach(hit => {
      const mark = document.createElement("div");
      mark.className = "hit"; mark.style.left = pct(Math.min(hit.t, total));
      mark.dataset.t = hit.t;
      bar.append(mark);
      hitEls.push(mark);
      const row = found.insertRow();
      const when = row.insertCell();
      when.className = "t"; when.textContent = fmt(hit.t) + " " + timeOfDay(wallAt(hit.t));
      row.insertCell().textContent = "found";
      row.insertCell().textContent = hit.text;  // text from a screen: as text, never markup
      row.title = "read at " + hit.rect.join(", ");
      row.addEventListener("click", () => jump(hit));
    });
    drawOutline();
  }
  function jump(hit) {
    chosen = hit;
    seek(hit.t);
    drawOutline();
  }
  function nextHit() {
    const t = now();
    const next = hits.find(h => h.t > t + 0.25) || hits[0];
    if (next) jump(next);
  }

  // -- the outline: where the text was read, over the picture, while that moment is shown ----
  function shownHits(t) {
    return hits.filter(h => t >= h.t - 0.25 && t <= h.t + OUTLINE_FOR);
  }
  function drawOutline() {
    const t = now();
    const current = chosen && t >= chosen.t - 0.25 && t <= chosen.t + OUTLINE_FOR ? chosen : shownHits(t)[0];
    [...found.rows].forEach((row, i) => row.classList.toggle("current", hits[i] === current));
    const fit = fittedBox();
    if (!current || !fit) { outline.classList.add("hidden"); return; }
    const scale = fit.width / video.videoWidth;
    const [x, y, w, h] = current.rect;
    outline.style.left = (video.offsetLeft + fit.x + x * scale - 2) + "px";
    outline.style.top = (video.offsetTop + fit.y + y * scale - 2) + "px";
    outline.style.width = (w * scale + 4) + "px";
    outline.style.height = (h * scale + 4) + "px";
    outline.dataset.rect = current.rect.join(",");
    outline.classList.remove("hidden");
  }

  input.addEventListener("input", () => show(input.value));
  input.addEventListener("keydown", ev => { if (ev.key === "Enter") { ev.preventDefault(); nextHit(); } });
  for (const kind of ["timeupdate", "seeked", "loadedmetadata"]) video.addEventListener(kind, drawOutline);
  addEventListener("resize", drawOutline);
  (function follow() { if (!video.paused) drawOutline(); requestAnimationFrame(follow); })();

  // -- opening at a moment: `recorder play --at` (TEXT.at), or #t=SECONDS in the address -----
  const fragment = /(?:^#|&)t=(\d+(?:\.\d+)?)/.exec(location.hash);
  const at = fragment ? Number(fragment[1]) : TEXT.at;
  if (TEXT.query) { input.value = TEXT.query; show(TEXT.query); }
  if (at !== null && at !== undefined) {
    chosen = hits.find(h => Math.abs(h.t - at) < 0.05) || null;
    seek(at);
  }
  window.replay.search = {
    run(query) { input.value = query; show(query); return hits.length; },
    get hits() { return hits; }, jump: i => jump(hits[i]), next: nextHit,
    get outline() { return outline.classList.contains("hidden") ? null : outline.getBoundingClientRect(); },
  };
})();
