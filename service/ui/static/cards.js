// The model cards: one per model of GET /models, with its training plots.

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

function facts(model) {
  const list = element("dl", undefined, "facts");
  const created = new Date(model.created);
  const data = model.data || {};
  const source = data.generator || data.loader || data.source || "";
  const rows = [
    ["Version", model.version || model.tag.split(":")[1], "code"],
    ["Created", Number.isNaN(created.valueOf()) ? model.created : `${created.toLocaleString()} (${model.created})`],
    ["Device", model.device || "not reported"],
    ["Input", describeInput(model.input || {})],
    ["Data", [source, data.rows ? `${data.rows} rows` : ""].filter(Boolean).join(", ") || "not recorded"],
    ["Data fingerprint (sha256)", data.sha256 || "not recorded", "code"],
  ];
  // Other versions this server serves (SERVING_<KEY>_VERSION_POLICY); the card describes the default.
  const others = (model.served_versions || []).filter((served) => !served.default);
  if (others.length) rows.push(["Also served (?version=)", others.map((served) => served.version).join(", "), "code"]);
  for (const [term, value, style] of rows) {
    list.append(element("dt", term));
    const detail = element("dd");
    detail.append(style === "code" ? element("code", value) : document.createTextNode(value));
    list.append(detail);
  }
  return list;
}

function describeInput(input) {
  if (input.kind === "tabular") return `${input.n_features} numeric features`;
  if (input.shape) return `${input.shape.join("x")} grey image, values ${(input.value_range || []).join(" to ")}`;
  return input.kind || "";
}

function metricsTable(metrics) {
  const numbers = Object.entries(metrics || {}).filter(([, value]) => typeof value === "number");
  if (!numbers.length) return element("p", "No held-out metrics recorded.", "meta");
  const table = element("table", undefined, "metrics");
  table.append(element("caption", "Held-out metrics"));
  const body = element("tbody");
  for (const [name, value] of numbers) {
    const line = element("tr");
    line.append(element("th", name.replaceAll("_", " ")), element("td", formatNumber(value)));
    line.lastChild.dataset.metric = name;
    line.firstChild.scope = "row";
    body.append(line);
  }
  table.append(body);
  return table;
}

function plots(model) {
  const holder = element("div", undefined, "plots");
  if (!model.plots || !model.plots.length) {
    holder.append(element("p", "No plots saved with this version.", "meta"));
    return holder;
  }
  for (const url of model.plots) {
    const file = url.split("/").pop();
    const title = file.replace(/\.png$/i, "").replaceAll(/[-_]/g, " ");
    const figure = element("figure");
    const image = element("img");
    image.src = url.replace(/^\//, ""); // relative: the page may sit under a prefix
    image.alt = `${model.name}: ${title} plot from training`;
    image.width = 600;
    image.height = 400;
    image.addEventListener("error", () => figure.replaceChildren(element("p", `The plot ${file} could not be loaded.`, "error")));
    const link = element("a");
    link.href = image.src; // the full-size picture
    link.append(image);
    figure.append(link, element("figcaption", title));
    holder.append(figure);
  }
  return holder;
}

export function showCards(models) {
  const holder = document.getElementById("cards");
  holder.replaceChildren(
    ...models.map((model) => {
      const card = element("article", undefined, "card");
      card.dataset.model = model.name;
      card.setAttribute("aria-labelledby", `card-${model.name}`);
      const title = element("h3", model.name);
      title.id = `card-${model.name}`;
      card.append(title, element("p", model.tag, "meta"), facts(model), metricsTable(model.metrics));
      const plotTitle = element("h4", "Training plots");
      card.append(plotTitle, plots(model));
      return card;
    }),
  );
}
