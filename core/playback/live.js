// live.js: the replay page following a session while it is recorded (recorder play --live).
//
// Loaded after the page's own script, whose globals it uses (SESSION, segments, markers,
// total, current, pendingSeek, load, draw, KEYS...). What it adds: the part being written
// plays from a MediaSource fed with whole fragments as they reach the disk; the parts,
// events, gaps and pauses are fetched again twice a second and drawn as they come; a Live
// button (L or End) goes back to the newest picture after jumping back.
"use strict";
(function () {
  const PULL_MS = 150, STATE_MS = 500;
  const EDGE = 0.25;        // seconds behind the newest whole fragment the picture aims at
  const BEHIND_SEEK = 3;    // further behind than this (a stall, a hidden tab): jump to the edge
  const KEEP = 60;          // seconds of picture kept in the MediaSource behind the playing point
  let following = true;
  let feed = null;          // the MediaSource the video plays a part being written from
  let drawn = "";
  let answers = 0;          // fragment answers appended (tests, benchmarks)

  const button = document.createElement("button");
  button.id = "live";
  button.title = "Follow the recording as it happens (L or End)";
  const note = document.createElement("span");
  note.id = "live-note";
  $("controls").insertBefore(note, $("status"));
  $("controls").insertBefore(button, note);
  const style = document.createElement("style");
  style.textContent = "#live.on { background: #8f1f1a; border-color: #e04848; } #live-note { color: var(--dim); }";
  document.head.append(style);

  // -- the part being written, as a MediaSource ------------------------------------------
  function mediaType(seg) { return 'video/mp4; codecs="' + seg.codec + '"'; }
  function fedLive(seg) {
    return seg.writing && seg.codec && "MediaSource" in window && MediaSource.isTypeSupported(mediaType(seg));
  }
  // The page's load() reads a part's src when it switches to it: a part being written gets
  // a MediaSource of its own each time; any other part (or a browser without MSE) its file.
  function adopt(seg) {
    const file = "parts/" + encodeURIComponent(seg.file);
    Object.defineProperty(seg, "src", {get: () => fedLive(seg) ? feedFrom(seg, pendingSeek ?? 0) : file,
                                       configurable: true, enumerable: true});
    return seg;
  }

  function feedFrom(seg, at) {
    const media = new MediaSource();
    const f = {seg, media, buffer: null, next: null, complete: false, busy: false, url: URL.createObjectURL(media)};
    feed = f;
    media.addEventListener("sourceopen", async () => {
      URL.revokeObjectURL(f.url);
      if (feed !== f) return;
      try {
        const init = await bytes("init/" + encodeURIComponent(seg.file));
        f.buffer = media.addSourceBuffer(mediaType(seg));
        await append(f, init.body);
        f.busy = false;
        await pull(f, "at=" + at);
      } catch (error) {
        console.warn("live: " + seg.file + ": " + error);
      }
    }, {once: true});
    f.busy = true;  // until the init segment is in
    return f.url;
  }

  async function bytes(url) {
    const answer = await fetch(url, {cache: "no-store"});
    if (!answer.ok) throw new Error(url + ": " + answer.status);
    return {body: await answer.arrayBuffer(), headers: answer.headers};
  }

  function bufferDone(buffer, start) {
    return new Promise((resolve, reject) => {
      buffer.addEventListener("updateend", resolve, {once: true});
      buffer.addEventListener("error", reject, {once: true});
      start();
    });
  }
  async function append(f, data) {
    if (data.byteLength && feed === f) await bufferDone(f.buffer, () => f.buffer.appendBuffer(data));
  }

  // Whole fragments from where the last answer ended (or from the keyframe before ``at``)
  async function pull(f, query) {
    if (f.busy || f.complete || feed !== f) return;
    f.busy = true;
    try {
      const {body, headers} = await bytes("fragments/" + encodeURIComponent(f.seg.file) + "?" + query);
      if (feed !== f) return;
      await trim(f);
      await append(f, body);
      answers++;
      f.next = Number(headers.get("X-Next"));
      f.complete = headers.get("X-Complete") === "1";
      grow(f);
      if (f.complete && f.media.readyState === "open" && !f.buffer.updating) f.media.endOfStream();
    } catch (error) {
      console.warn("live: " + f.seg.file + ": " + error);
    } finally {
      f.busy = false;
    }
  }
  // An hour of picture is more than a MediaSource holds: what is well behind is let go
  async function trim(f) {
    if (f.media.readyState === "closed") return;
    const buffered = f.buffer.buffered, until = video.currentTime - KEEP;
    if (buffered.length && buffered.start(0) < until - 10) await bufferDone(f.buffer, () => f.buffer.remove(0, until));
  }
  function fedEnd(f) {
    if (!f.buffer || f.media.readyState === "closed") return 0;  // another part took the video since
    const buffered = f.buffer.buffered;
    return buffered.length ? buffered.end(buffered.length - 1) : 0;
  }
  function grow(f) {
    f.seg.duration = Math.max(f.seg.duration, fedEnd(f));
    total = Math.max(total, end(f.seg));
  }
  // A jump back before what the MediaSource holds (it started at a keyframe, or let go): fed again from there
  video.addEventListener("seeking", () => {
    const f = feed;
    if (!f || !f.buffer || segments[current] !== f.seg || !video.buffered.length) return;
    if (video.currentTime < video.buffered.start(0) - 0.05) {
      const at = video.currentTime, index = current;
      current = -1;
      load(index, at);
    }
  });

  // -- the session as it is now -------------------------------------------------------------
  async function refresh() {
    let data;
    try {
      data = await (await fetch("state", {cache: "no-store"})).json();
    } catch {
      return;  // the command was stopped: what is here stays
    }
    SESSION.live = data.live;
    if (!data.segments.length) return;
    for (const s of data.segments) {
      const seg = segments.find(x => x.file === s.file);
      if (!seg) {
        segments.push(adopt(Object.assign({}, s, {src: undefined})));
        continue;
      }
      seg.start = s.start;
      seg.writing = s.writing;
      seg.codec = s.codec ?? seg.codec;
      seg.duration = Math.max(s.writing ? seg.duration : 0, s.duration, feed && feed.seg === seg ? fedEnd(feed) : 0);
    }
    markers.splice(0, markers.length, ...data.markers);
    Object.assign(SESSION, {manifest: data.manifest, gaps: data.gaps, still: data.still,
                            recorded: data.recorded, end: data.end, clock: data.clock});
    total = Math.max(data.end, ...segments.map(end));
    const signature = JSON.stringify([segments.map(s => [s.file, s.writing, Math.round(end(s))]), data.markers,
                                data.gaps, data.still, data.manifest.state]);
    if (signature !== drawn) {
      drawn = signature;
      redraw();
    }
  }

  // draw() once more, keeping which kinds the reviewer ticked and where the list was scrolled
  function redraw() {
    const ticked = new Map([...$("kinds").querySelectorAll("input")].map(box => [box.dataset.kind, box.checked]));
    const scrolled = $("list").scrollTop;
    for (const id of ["labels", "events", "kinds"]) $(id).replaceChildren();
    bar.querySelectorAll(".segment, .still, .gap, .marker").forEach(el => el.remove());
    markerEls.length = 0;
    draw();
    for (const box of $("kinds").querySelectorAll("input")) {
      const kind = box.dataset.kind;
      if (!ticked.has(kind)) continue;
      box.checked = ticked.get(kind);
      if (box.checked) shownKinds.add(kind); else shownKinds.delete(kind);
    }
    idleSettingsChanged();
    filterChanged();
    $("list").scrollTop = scrolled;
    if (SESSION.live.recording) $("meta").textContent = $("meta").textContent.replace(/ended: \w+$/, "recording now");
  }

  // -- following the newest picture ----------------------------------------------------------
  function newest() { return segments.length ? end(segments[segments.length - 1]) : 0; }
  // Seconds between the newest picture written to disk and the one shown
  function behind() {
    if (feed && feed.seg === segments[current] && feed.buffer) return Math.max(0, fedEnd(feed) - video.currentTime);
    return Math.max(0, newest() - now());
  }

  function goLive() {
    following = true;
    const last = segments.length - 1;
    if (last < 0) return;
    const seg = segments[last];
    if (fedLive(seg) && (!feed || feed.seg !== seg)) current = -1;  // played from its file so far: fed from now on
    load(last, Math.max(0, seg.duration - EDGE), true);
  }
  function leave() {
    if (!following) return;
    following = false;
    applySpeed();
  }
  function keepUp() {
    if (!following || !segments.length) return;
    const last = segments.length - 1;
    if (current !== last) {
      // the previous part's last moments carry on into the new one by themselves ('ended')
      if (video.paused || newest() - now() > BEHIND_SEEK) goLive();
      return;
    }
    if (feed && feed.seg === segments[last] && video.buffered.length) {
      const behind = fedEnd(feed) - video.currentTime;
      if (behind > BEHIND_SEEK) video.currentTime = fedEnd(feed) - EDGE;
      // catch up without a jump (a seek decodes from the keyframe before): the picture stays
      // within about a fragment of the newest one written instead of drifting behind at each stall
      video.playbackRate = behind > 1.5 ? 2 : behind > 0.6 ? 1.5 : 1;
    }
    if (video.paused && !video.ended) start();
  }
  function show() {
    button.classList.toggle("on", following);
    button.textContent = following ? "● Live" : "Return to live";
    const live = SESSION.live, pause = live.paused;
    if (!live.recording) note.textContent = "the recording has ended";
    else if (pause) note.textContent = "paused by " + pause.by + (pause.reason ? " (" + pause.reason + ")" : "") +
      " since " + timeOfDay(wallAt(pause.since));
    else if (following) note.textContent = behind().toFixed(1) + " s behind the newest picture written";
    else note.textContent = fmt(newest() - now()) + " behind live";
  }

  // Jumping anywhere (keys, the bar, an event, pausing) leaves live; L, End and the button come back
  KEYS.l = goLive;
  KEYS.End = goLive;
  window.addEventListener("keydown", ev => { const run = action(ev); if (run && run !== goLive) leave(); }, true);
  bar.addEventListener("pointerdown", leave);
  $("events").addEventListener("click", leave);
  $("play").addEventListener("click", () => { if (video.paused) leave(); });
  button.addEventListener("click", goLive);

  segments.forEach(adopt);
  setInterval(() => {
    if (feed && feed.next !== null) pull(feed, "from=" + feed.next);
    keepUp();
    show();
  }, PULL_MS);
  setInterval(refresh, STATE_MS);
  refresh();
  goLive();

  window.live = {
    goLive, behind,
    get following() { return following; },
    get answers() { return answers; },
    get fed() { return feed ? {file: feed.seg.file, end: fedEnd(feed), complete: feed.complete} : null; },
  };
})();
