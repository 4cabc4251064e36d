// The YAKt dashboard: plain script, no build step, nothing fetched from
// elsewhere. Tables come from this node's JSON (paged on the server); the
// record stream (/ui/events) says when to refresh them.
"use strict";

(function () {
  const TOPIC_PAGE = 50;
  const BROKER_PAGE = 100;
  const KEEP_RECORDS = 100;
  const QUORUM_EVERY_MS = 2000;
  const BROKERS_EVERY_MS = 5000;

  const $ = (id) => document.getElementById(id);

  // el builds an element with text content only: nothing from the
  // cluster is ever parsed as HTML.
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) tr.appendChild(c);
    return tr;
  }

  function num(v) { return el("td", v === null || v === undefined ? "–" : v, "num"); }

  function age(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1000) return ms + " ms";
    if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 7200000) return Math.round(ms / 60000) + " min";
    return Math.round(ms / 3600000) + " h";
  }

  function setStatus(msg) { $("status").textContent = msg; }

  async function getJSON(url) {
    const resp = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) {
      const m = body && body.error ? body.error.code + ": " + body.error.message : "HTTP " + resp.status;
      throw new Error(url + ": " + m);
    }
    return body;
  }

  function replaceRows(table, rows) {
    const tbody = $(table).tBodies[0];
    tbody.replaceChildren(...rows);
  }

  // refresher runs load at most once at a time; asking while it runs
  // runs it once more after, so the last change is always shown.
  function refresher(load) {
    let running = false, again = false;
    return async function run() {
      if (running) { again = true; return; }
      running = true;
      try {
        do {
          again = false;
          try { await load(); } catch (e) { setStatus(String(e.message || e)); }
        } while (again);
      } finally { running = false; }
    };
  }

  // ---- quorum ----
  const statusClass = { leader: "ok", follower: "ok", lagging: "warn", candidate: "warn", unreachable: "bad", unknown: "dim" };

  const loadQuorum = refresher(async function () {
    const q = await getJSON("/v1/quorum");
    $("q-leader").textContent = q.leaderId >= 0 ? q.leaderId : "none";
    $("q-leader").className = q.leaderId >= 0 ? "" : "bad";
    $("q-term").textContent = q.leaderEpoch;
    $("q-hw").textContent = q.highWatermark;
    $("q-view").textContent = q.stale ? "node " + q.nodeId + ", stale " + age(q.staleMs) : "leader's (node " + q.nodeId + ")";
    replaceRows("voters", q.voters.map((v) => row([
      el("td", v.nodeId),
      el("td", v.status, statusClass[v.status] || ""),
      num(v.logEndOffset),
      num(v.lag),
      el("td", age(v.lastContactMs)),
      el("td", v.httpAddress || "–"),
      el("td", v.peerAddress),
    ])));
    setStatus("updated " + new Date().toLocaleTimeString());
  });

  // ---- paged tables ----
  // pager keeps the cursors of the pages before the current one, so
  // "previous" needs no count of what came before.
  function pager(prefix, load) {
    const p = { stack: [], after: "", next: null };
    $(prefix + "-prev").addEventListener("click", function () {
      p.after = p.stack.pop() || "";
      load();
    });
    $(prefix + "-next").addEventListener("click", function () {
      if (p.next === null) return;
      p.stack.push(p.after);
      p.after = p.next;
      load();
    });
    p.show = function (next) {
      p.next = next === undefined || next === null ? null : String(next);
      $(prefix + "-prev").disabled = p.stack.length === 0;
      $(prefix + "-next").disabled = p.next === null;
      $(prefix + "-page").textContent = "page " + (p.stack.length + 1);
    };
    return p;
  }

  const brokersPage = pager("brokers", () => loadBrokers());
  const loadBrokers = refresher(async function () {
    let url = "/ui/api/brokers?limit=" + BROKER_PAGE;
    if (brokersPage.after !== "") url += "&after=" + encodeURIComponent(brokersPage.after);
    const b = await getJSON(url);
    $("brokers-note").textContent = b.leaderView ? "" : "(heartbeats are known on the leader only; it could not be asked)";
    replaceRows("brokers", b.brokers.map((x) => row([
      el("td", x.brokerId),
      el("td", x.status, x.status === "ALIVE" ? "ok" : x.status === "FENCED" ? "bad" : "dim"),
      num(x.epoch),
      el("td", age(x.lastHeartbeatMs)),
      el("td", x.brokerHost + ":" + x.brokerPort),
      el("td", x.rackId || "–"),
    ])));
    brokersPage.show(b.next);
  });

  const topicsPage = pager("topics", () => loadTopics());
  const loadTopics = refresher(async function () {
    let url = "/ui/api/topics?limit=" + TOPIC_PAGE;
    if (topicsPage.after !== "") url += "&after=" + encodeURIComponent(topicsPage.after);
    const t = await getJSON(url);
    $("topics-note").textContent = "(as of offset " + t.highWatermark + " on node " + t.nodeId + ")";
    replaceRows("topics", t.topics.map((x) => {
      const tr = row([
        el("td", x.name, "name"),
        num(x.partitions),
        el("td", x.underReplicated, "num" + (x.underReplicated > 0 ? " warn" : "")),
        el("td", x.offline, "num" + (x.offline > 0 ? " bad" : "")),
        el("td", x.topicUUID, "uuid"),
      ]);
      tr.dataset.topic = x.name;
      return tr;
    }));
    topicsPage.show(t.next);
  });

  // ---- records ----
  function summary(fields) {
    const s = JSON.stringify(fields);
    return s.length > 300 ? s.slice(0, 300) + "…" : s;
  }

  function addRecords(ev) {
    const tbody = $("records").tBodies[0];
    const rows = ev.records.map((r) => {
      const tr = row([
        num(r.offset),
        el("td", r.timestamp ? new Date(r.timestamp).toLocaleTimeString() : "–"),
        el("td", r.name),
        el("td", summary(r.fields), "fields"),
      ]);
      tr.className = "fresh";
      return tr;
    }).reverse(); // newest first
    tbody.prepend(...rows);
    while (tbody.rows.length > KEEP_RECORDS) tbody.deleteRow(tbody.rows.length - 1);
    if (ev.count > ev.records.length) {
      $("records-note").textContent = "(offset " + ev.highWatermark + ": " + ev.count + " records, the newest " + ev.records.length + " shown)";
    }
  }

  function touches(ev, words) {
    return ev.records.some((r) => words.some((w) => r.name.indexOf(w) >= 0)) || ev.count > ev.records.length;
  }

  let lastEventId = ""; // to resume after a refused stream without repeats

  function connect() {
    const es = new EventSource("/ui/events" + (lastEventId ? "?from=" + encodeURIComponent(lastEventId) : ""));
    es.addEventListener("open", function () {
      $("live").textContent = "live";
      $("live").className = "badge on";
    });
    es.addEventListener("error", function () {
      $("live").textContent = "reconnecting";
      $("live").className = "badge off";
      // EventSource reconnects by itself after a dropped stream, from the
      // last id it was sent, but gives up on a refusal (a node at its
      // stream bound answers 503): then try again later.
      if (es.readyState === EventSource.CLOSED) window.setTimeout(connect, 5000);
    });
    es.addEventListener("records", function (m) {
      lastEventId = m.lastEventId;
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { setStatus("bad event: " + e.message); return; }
      addRecords(ev);
      if (touches(ev, ["Topic", "Partition", "Broker"])) loadTopics();
      if (touches(ev, ["Broker"])) loadBrokers();
    });
    es.addEventListener("reset", function (m) {
      lastEventId = m.lastEventId;
      $("records-note").textContent = "(older records were compacted away)";
      loadTopics();
      loadBrokers();
    });
  }

  function every(ms, fn) {
    fn();
    window.setInterval(fn, ms);
  }

  document.addEventListener("DOMContentLoaded", function () {
    every(QUORUM_EVERY_MS, loadQuorum);
    every(BROKERS_EVERY_MS, loadBrokers);
    loadTopics();
    connect();
  });
})();
