// chatdesk sandbox page: shows each demo person's chat with the bot on WeCom or DingTalk, sends
// messages, photos and card clicks to the sandbox API, and follows changes over server-sent events.
"use strict";
(function () {
  const q = new URLSearchParams(location.search); // ?platform=dingtalk&person=zhang opens that chat
  const S = {
    platform: ["wecom", "dingtalk"].includes(q.get("platform")) ? q.get("platform") : localStorage.getItem("sbx.platform") || "wecom",
    person: q.get("person") || localStorage.getItem("sbx.person") || "",
    people: [], userIds: {}, entries: new Map(), seen: {}, busy: false,
  };
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") n.className = v; else if (k === "text") n.textContent = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v); else n.setAttribute(k, v);
    }
    for (const kid of kids) if (kid != null) n.append(kid);
    return n;
  };
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  // A small, safe markdown: escape first, then **bold**, [text](http…) links, line breaks.
  const md = (s) => esc(s)
    .replace(/\*\*(.+?)\*\*/g, "<b>$1</b>")
    .replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+|\/[^)\s]*)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>')
    .replace(/^#+\s*(.*)$/gm, "<b>$1</b>");

  function toast(text) {
    const t = $("toast"); t.textContent = text; t.hidden = false;
    clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
  }
  async function post(path, body) {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!r.ok) {
      let msg = `请求失败（${r.status}）`;
      try { msg = (await r.json()).errors[0].message; } catch (e) { /* keep the status */ }
      toast(msg); return false;
    }
    return true;
  }
  const uid = (pid, pf) => (S.userIds[pid] || {})[pf || S.platform];
  const chatOf = (e) => S.people.find((p) => uid(p.id, e.platform) === e.user_id);

  // --- people ---------------------------------------------------------------------------------
  const unreadOn = (pf, pid) => [...S.entries.values()].filter((e) => e.platform === pf && e.user_id === uid(pid, pf) && e.sender === "bot" && e.id > (S.seen[pf + pid] || 0)).length;
  function renderSwitch() {
    // A notice that reached someone on the other platform is counted on that platform's button.
    for (const b of document.querySelectorAll(".switch button")) {
      const pf = b.dataset.platform; const n = pf === S.platform ? 0 : S.people.reduce((sum, p) => sum + unreadOn(pf, p.id), 0);
      // beside the button, not in it: the button's name stays exactly 企业微信 / 钉钉
      let badge = document.getElementById(`unread-${pf}`);
      if (!n) { if (badge) badge.remove(); continue; }
      if (!badge) { badge = el("span", { class: "badge switch-badge", id: `unread-${pf}` }); b.after(badge); }
      badge.textContent = String(n); badge.title = `${b.textContent}有 ${n} 条未读`;
    }
  }
  function renderPeople() {
    renderSwitch();
    const ul = $("people"); ul.textContent = "";
    for (const p of S.people) {
      const unread = unreadOn(S.platform, p.id);
      const who = el("span", { class: "who" }, p.name, el("small", { text: [p.role_zh, p.region, p.company].filter(Boolean).join(" · ") }));
      const b = el("button", { type: "button", "data-person": p.id, "aria-current": String(p.id === S.person), onclick: () => pick(p.id) },
        el("span", { class: "avatar", "aria-hidden": "true", text: p.name.slice(-1) }), who,
        unread && p.id !== S.person ? el("span", { class: "badge", "aria-label": `${unread} 条未读`, text: String(unread) }) : null);
      ul.append(el("li", {}, b));
    }
  }
  function pick(pid) {
    S.person = pid; localStorage.setItem("sbx.person", pid); render();
    $("text").focus();
  }
  function setPlatform(pf) {
    S.platform = pf; localStorage.setItem("sbx.platform", pf);
    document.body.className = pf;
    for (const b of document.querySelectorAll(".switch button")) b.setAttribute("aria-pressed", String(b.dataset.platform === pf));
    render();
  }

  // --- messages -------------------------------------------------------------------------------
  function wecomCard(e, c) {
    const box = el("div", { class: "card", "data-card": e.card_key });
    if (c.source && c.source.desc) box.append(el("div", { class: "source", text: c.source.desc }));
    const mt = c.main_title || {};
    box.append(el("div", { class: "title", text: mt.title || "" }));
    if (mt.desc) box.append(el("div", { class: "desc", text: mt.desc }));
    const list = c.horizontal_content_list || [];
    if (list.length) {
      const dl = el("dl");
      for (const h of list) dl.append(el("dt", { text: h.keyname || "" }), el("dd", { text: h.value || "" }));
      box.append(dl);
    }
    if (c.sub_title_text) box.append(el("div", { class: "sub", text: c.sub_title_text }));
    const buttons = (c.button_list || []).map((b) => ({ text: b.text, key: b.key, style: { 1: "primary", 3: "danger" }[b.style] || "" }));
    const row = actions(e, buttons, e.finished_label); if (row) box.append(row);
    if (c.card_action && c.card_action.url && c.card_type === "text_notice") box.append(el("a", { class: "link", href: c.card_action.url, target: "_blank", rel: "noopener", text: "查看详情 ›" }));
    return box;
  }
  function dingCard(e, c) {
    const box = el("div", { class: "card", "data-card": e.card_key });
    box.append(el("div", { class: "title", text: ((c.header || {}).title || {}).text || "" }));
    const buttons = []; let link = null;
    for (const b of c.contents || []) {
      if (b.type === "text") box.append(el("div", { class: "source", text: b.text }));
      else if (b.type === "markdown") { const d = el("div", { class: "md" }); d.innerHTML = md(b.text); box.append(d); }
      else if (b.type === "action") for (const a of b.actions || []) {
        if (a.actionType === "request") buttons.push({ text: (a.label || {}).text, key: a.id, style: { primary: "primary", warning: "danger" }[a.status] || "" });
        else if (a.actionType === "openLink") link = { text: (a.label || {}).text, url: (a.url || {}).all };
      }
    }
    const row = actions(e, buttons, ""); if (row) box.append(row);
    if (link && link.url) box.append(el("a", { class: "link", href: link.url, target: "_blank", rel: "noopener", text: `${link.text} ›` }));
    return box;
  }
  function actions(e, buttons, finished) {
    const row = el("div", { class: "actions" });
    if (finished) { row.append(el("span", { class: "done", "aria-disabled": "true", text: finished })); return row; }
    for (const b of buttons) {
      row.append(el("button", { type: "button", class: b.style, "data-action": b.key, onclick: (ev) => clickCard(ev.currentTarget, e, b.key) }, b.text));
    }
    return buttons.length ? row : null;
  }
  async function clickCard(button, e, key) {
    for (const b of button.parentNode.querySelectorAll("button")) b.disabled = true;
    const ok = await post("/sandbox/api/click", { platform: e.platform, person: S.person, card: e.card_key, action: key });
    if (!ok) for (const b of button.parentNode.querySelectorAll("button")) b.disabled = false;
  }
  function message(e) {
    const li = el("li", { class: `msg ${e.sender}`, "data-id": e.id });
    if (e.sender === "bot") li.append(el("span", { class: "avatar", "aria-hidden": "true", text: "机" }));
    let body;
    if (e.kind === "card" && e.card) body = e.platform === "wecom" ? wecomCard(e, e.card) : dingCard(e, e.card);
    else if (e.kind === "image") body = el("div", { class: "bubble" }, el("img", { src: e.image_url, alt: "照片" }));
    else if (e.kind === "markdown") { body = el("div", { class: "bubble" }); body.innerHTML = md(e.text); }
    else body = el("div", { class: "bubble", text: e.text });
    li.append(body);
    return li;
  }
  function renderChat() {
    const p = S.people.find((x) => x.id === S.person);
    $("chat-title").textContent = p ? `${p.name}（${p.role_zh}）与 chatdesk 机器人 · ${S.platform === "wecom" ? "企业微信" : "钉钉"}` : "—";
    const ol = $("messages"); const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 60;
    ol.textContent = "";
    const mine = [...S.entries.values()].filter((e) => e.platform === S.platform && e.user_id === uid(S.person)).sort((a, b) => a.id - b.id);
    if (!mine.length) ol.append(el("li", { class: "empty", text: "还没有消息。试试发送“帮助”。" }));
    for (const e of mine) ol.append(message(e));
    if (mine.length) S.seen[S.platform + S.person] = Math.max(S.seen[S.platform + S.person] || 0, mine[mine.length - 1].id);
    if (atBottom || S.stick) ol.scrollTop = ol.scrollHeight;
    S.stick = false;
  }
  function render() { renderChat(); renderPeople(); }

  function upsert(e) {
    const old = S.entries.get(e.id);
    if (!old || old.version <= e.version) S.entries.set(e.id, e);
  }

  // --- wiring ---------------------------------------------------------------------------------
  async function load() {
    const r = await fetch("/sandbox/api/state"); const data = await r.json();
    S.people = data.people; S.userIds = data.user_ids;
    if (!S.people.some((p) => p.id === S.person)) S.person = S.people[0].id;
    for (const e of data.entries) upsert(e);
    S.stick = true; render();
  }
  function connect() {
    const es = new EventSource("/sandbox/events");
    es.onopen = () => { $("live").textContent = "实时连接"; $("live").classList.add("on"); load(); };
    es.onerror = () => { $("live").textContent = "重新连接中…"; $("live").classList.remove("on"); };
    es.onmessage = (m) => {
      const ev = JSON.parse(m.data);
      if (ev.type === "reset") { S.entries.clear(); S.seen = {}; render(); }
      else if (ev.type === "entry") { upsert(ev.entry); render(); }
    };
  }
  async function send() {
    const box = $("text"); const text = box.value.trim();
    if (!text || S.busy) return;
    S.busy = true; $("send").disabled = true; S.stick = true;
    const ok = await post("/sandbox/api/say", { platform: S.platform, person: S.person, text });
    if (ok) box.value = "";
    S.busy = false; $("send").disabled = false; box.focus();
  }
  $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
  $("text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
  });
  $("photo").addEventListener("change", async (ev) => {
    const file = ev.target.files[0]; if (!file) return;
    const form = new FormData(); form.append("platform", S.platform); form.append("person", S.person); form.append("photo", file);
    S.stick = true;
    const r = await fetch("/sandbox/api/photo", { method: "POST", body: form });
    if (!r.ok) { try { toast((await r.json()).errors[0].message); } catch (e) { toast(`上传失败（${r.status}）`); } }
    ev.target.value = "";
  });
  for (const b of document.querySelectorAll(".switch button")) b.addEventListener("click", () => setPlatform(b.dataset.platform));
  $("reset").addEventListener("click", async () => {
    if (await post("/sandbox/api/reset", {})) toast("已重置演示数据");
  });
  setPlatform(S.platform);
  load().then(connect);
})();
