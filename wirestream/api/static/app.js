// wirestream live page. Article text is untrusted: it only ever becomes text nodes
// (textContent / createTextNode), never HTML, so markup in an article shows as text.
"use strict";

const view = document.getElementById("view");
const status = document.getElementById("status");
const seen = new Map();  // article id -> card element, newest first in the feed
let timer = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function getJSON(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function badge(kind, label) {
  return el("span", { class: `${kind} ${label}`, text: label });
}

// The text with its entity mentions wrapped in spans, built from offsets, as text nodes.
function highlighted(text, mentions, field, limit) {
  const out = el("div", { class: "body" });
  const end = limit ? Math.min(limit, text.length) : text.length;
  let at = 0;
  const spans = mentions.filter((m) => (m.field || "body") === field && m.end <= end)
    .sort((a, b) => a.start - b.start);
  for (const m of spans) {
    if (m.start < at) continue;
    out.append(document.createTextNode(text.slice(at, m.start)));
    out.append(el("span", { class: `ent ent-${m.label}`, title: m.label, text: text.slice(m.start, m.end) }));
    at = m.end;
  }
  out.append(document.createTextNode(text.slice(at, end) + (end < text.length ? " …" : "")));
  return out;
}

function meta(article) {
  const parts = [article.agency, article.dateline, article.published].filter(Boolean).join(" · ");
  const line = el("div", { class: "meta", text: parts + " " });
  if (article.tone) line.append(badge("tone", article.tone.label));
  return line;
}

function title(article) {
  return article.headline || article.body.split(/\s+/).slice(0, 14).join(" ") + " …";
}

function articleCard(article) {
  const link = el("a", { href: `#/article/${encodeURIComponent(article.id)}`, text: title(article) });
  return el("article", { class: "card", "data-id": article.id },
    el("h2", {}, link), meta(article), highlighted(article.body, article.mentions || [], "body", 500));
}

async function refreshFeed() {
  try {
    const page = await getJSON("/api/articles?limit=20");
    status.textContent = `${page.total} stored · live`;
    for (const item of page.items.slice().reverse()) {
      if (seen.has(item.id + item.updated_at)) continue;
      const detail = await getJSON(`/api/articles/${encodeURIComponent(item.id)}`);
      const card = articleCard(detail.article);
      seen.set(item.id + item.updated_at, card);
      const list = document.getElementById("feed");
      if (list) list.prepend(card);
    }
  } catch (error) {
    status.textContent = `offline (${error.message})`;
  }
}

function showFeed() {
  view.replaceChildren(el("h1", { text: "Newest articles" }), el("section", { id: "feed" }));
  for (const card of Array.from(seen.values()).reverse()) document.getElementById("feed").prepend(card);
  refreshFeed();
  timer = setInterval(refreshFeed, 1000);
}

async function showArticle(id) {
  const { article, latest } = await getJSON(`/api/articles/${encodeURIComponent(id)}`);
  const stances = new Map((article.stances || []).map((s) => [s.entity_key, s]));
  const rows = (article.entities || []).map((e) => {
    const stance = stances.get(e.key);
    return el("tr", {},
      el("td", {}, el("a", { href: `#/entity/${encodeURIComponent(e.key)}`, text: e.name })),
      el("td", {}, el("span", { class: `ent ent-${e.label}`, text: e.label })),
      el("td", { text: String(e.mention_count) }),
      el("td", {}, stance ? badge("stance", stance.label) : "–"));
  });
  // what stages of one's own added (article.extensions, any JSON under each stage's name), shown as text
  const extensions = Object.entries(article.extensions || {}).map(([stage, value]) =>
    el("section", { class: "extension", "data-stage": stage },
      el("h3", { text: stage }), el("pre", { text: JSON.stringify(value, null, 2) })));
  view.replaceChildren(
    el("article", { class: "card" },
      el("h1", { text: title(article) }), meta(article),
      el("div", { class: "meta", text: `story ${article.story_id}, version ${article.version}` +
        (latest ? " (latest)" : " (superseded)") }),
      article.headline ? highlighted(article.headline, article.mentions || [], "headline") : "",
      highlighted(article.body, article.mentions || [], "body")),
    el("h2", { text: "Entities and how the article portrays them" }),
    el("table", {}, el("tr", {}, el("th", { text: "entity" }), el("th", { text: "type" }),
      el("th", { text: "mentions" }), el("th", { text: "stance" })), ...rows),
    ...(extensions.length ? [el("h2", { text: "What other stages added" }), ...extensions] : []));
}

function chart(timeline) {
  const ns = "http://www.w3.org/2000/svg";
  const width = 640, height = 200, pad = 30;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", "100%");
  const x = (i) => pad + (timeline.length < 2 ? (width - 2 * pad) / 2 : i * (width - 2 * pad) / (timeline.length - 1));
  const y = (v) => height / 2 - v * (height / 2 - pad);
  const axis = document.createElementNS(ns, "line");
  Object.entries({ x1: pad, x2: width - pad, y1: y(0), y2: y(0), stroke: "#bbb" }).forEach(([k, v]) => axis.setAttribute(k, v));
  svg.append(axis);
  timeline.forEach((point, i) => {
    const dot = document.createElementNS(ns, "circle");
    const value = point.stance_value ?? 0;
    Object.entries({ cx: x(i), cy: y(value), r: 3 + Math.min(point.mentions, 8),
      class: point.stance || "neutral" }).forEach(([k, v]) => dot.setAttribute(k, v));
    const title = document.createElementNS(ns, "title");
    title.textContent = `${point.day}: ${point.mentions} mention(s), stance ${point.stance || "none"}`;
    dot.append(title);
    svg.append(dot);
  });
  return svg;
}

async function showEntity(key) {
  const entity = await getJSON(`/api/entities/${encodeURIComponent(key)}`);
  const rows = entity.timeline.map((t) => el("tr", {}, el("td", { text: t.day }),
    el("td", {}, el("a", { href: `#/article/${encodeURIComponent(t.id)}`, text: t.headline || t.id })),
    el("td", { text: String(t.mentions) }), el("td", {}, t.stance ? badge("stance", t.stance) : "–")));
  view.replaceChildren(
    el("h1", {}, document.createTextNode(entity.name + " "), el("span", { class: `ent ent-${entity.label}`, text: entity.label })),
    el("div", { class: "meta", text: `${entity.key} · seen ${entity.first_seen} to ${entity.last_seen}` }),
    el("h2", { text: "Stance over time (dot size: mentions)" }), chart(entity.timeline),
    el("table", {}, el("tr", {}, el("th", { text: "day" }), el("th", { text: "article" }),
      el("th", { text: "mentions" }), el("th", { text: "stance" })), ...rows));
}

function route() {
  if (timer) clearInterval(timer);
  timer = null;
  const [, kind, id] = location.hash.split("/");
  const target = id ? decodeURIComponent(id) : "";
  const shown = kind === "article" ? showArticle(target) : kind === "entity" ? showEntity(target) : (showFeed(), null);
  if (shown) shown.catch((error) => view.replaceChildren(el("p", { text: `Not found: ${error.message}` })));
}

window.addEventListener("hashchange", route);
route();
