// The tabular panel: one row as a form, many rows as pasted CSV, answers as a table and a download.
import { percent, postJson, showError } from "./api.js";

const ENDPOINT = "classify";
let featureCount = 10;
let scaling = null; // {mean: [...], scale: [...]} from GET /models, when the model carries it
let answered = null; // {rows, probabilities, labels, model} of the last CSV answer

// A standard normal draw (Box-Muller).
function gaussian() {
  const u = 1 - Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
}

// A row like the training data: each feature around its training mean, spread by its scale.
function randomRow() {
  return Array.from({ length: featureCount }, (_, index) => {
    const mean = scaling ? scaling.mean[index] : 0;
    const scale = scaling ? scaling.scale[index] : 1.5;
    return Number((mean + scale * gaussian()).toFixed(3));
  });
}

function inputs() {
  return [...document.querySelectorAll("#features input")];
}

function buildForm() {
  const holder = document.getElementById("features");
  holder.replaceChildren(
    ...Array.from({ length: featureCount }, (_, index) => {
      const field = document.createElement("div");
      field.className = "field";
      const label = document.createElement("label");
      label.htmlFor = `feature-${index}`;
      label.textContent = `Feature ${index + 1}`;
      const input = document.createElement("input");
      input.id = `feature-${index}`;
      input.name = `feature-${index}`;
      input.type = "text";
      input.inputMode = "decimal";
      input.autocomplete = "off";
      input.value = "0";
      field.append(label, input);
      return field;
    }),
  );
}

// The numbers of one line of text, or a message saying what is wrong with it.
function parseNumbers(cells, where) {
  const values = cells.map((cell) => cell.trim());
  if (values.length !== featureCount) return `${where} has ${values.length} values; ten are expected`;
  const bad = values.findIndex((cell) => cell === "" || !Number.isFinite(Number(cell)));
  if (bad >= 0) return `${where}: value ${bad + 1} (${values[bad].slice(0, 20) || "empty"}) is not a number`;
  return values.map(Number);
}

export function parseCsv(text) {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  const rows = [];
  for (const [index, line] of lines.entries()) {
    if (!line || line.startsWith("#")) continue;
    const cells = line.split(/[,;\t]/.test(line) ? /\s*[,;\t]\s*/ : /\s+/);
    const parsed = parseNumbers(cells, `Line ${index + 1}`);
    if (typeof parsed === "string") {
      if (!rows.length && /[a-z]/i.test(line)) continue; // a header line
      throw new Error(parsed);
    }
    rows.push(parsed);
  }
  if (!rows.length) throw new Error("Paste at least one line of ten numbers.");
  return rows;
}

async function classifyOne(event) {
  event.preventDefault();
  const error = document.getElementById("row-error");
  const row = parseNumbers(inputs().map((input) => input.value), "The row");
  if (typeof row === "string") {
    showError(error, `${row}: fill in every feature with a number.`);
    return;
  }
  try {
    const answer = await postJson(ENDPOINT, { rows: [row] });
    showError(error, "");
    document.getElementById("row-label").textContent = `class ${answer.labels[0]}`;
    document.getElementById("row-probability").textContent =
      `probability of class 1: ${percent(answer.probabilities[0])} (${answer.model})`;
    document.getElementById("row-form").dataset.probability = String(answer.probabilities[0]);
  } catch (failure) {
    document.getElementById("row-label").textContent = "–";
    document.getElementById("row-probability").textContent = "";
    showError(error, failure.message);
  }
}

async function classifyMany(event) {
  event.preventDefault();
  const error = document.getElementById("csv-error");
  const table = document.getElementById("answers");
  let rows;
  try {
    rows = parseCsv(document.getElementById("csv").value);
    const answer = await postJson(ENDPOINT, { rows });
    answered = { rows, ...answer };
    showError(error, "");
  } catch (failure) {
    answered = null;
    table.hidden = true;
    document.getElementById("download").disabled = true;
    showError(error, failure.message);
    return;
  }
  const body = table.tBodies[0];
  body.replaceChildren(
    ...answered.probabilities.map((probability, index) => {
      const line = document.createElement("tr");
      for (const text of [String(index + 1), percent(probability), String(answered.labels[index])]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        line.append(cell);
      }
      line.dataset.probability = String(probability);
      return line;
    }),
  );
  document.getElementById("answers-caption").textContent = `${rows.length} answers from ${answered.model}`;
  table.hidden = false;
  document.getElementById("download").disabled = false;
}

function download() {
  if (!answered) return;
  const header = [...Array.from({ length: featureCount }, (_, i) => `feature_${i + 1}`), "probability", "label"];
  const lines = answered.rows.map((row, index) =>
    [...row, answered.probabilities[index], answered.labels[index]].join(","),
  );
  const blob = new Blob([[header.join(","), ...lines].join("\n") + "\n"], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "answers.csv";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// ``model`` is the tabular model's entry of GET /models (or null while it is not known).
export function useTabularModel(model) {
  if (!model) return;
  scaling = model.feature_scaling || null;
  if (model.input && model.input.n_features && model.input.n_features !== featureCount) {
    featureCount = model.input.n_features;
    buildForm();
  }
}

export function setUpTabular() {
  buildForm();
  document.getElementById("row-form").addEventListener("submit", classifyOne);
  document.getElementById("random-row").addEventListener("click", (event) => {
    randomRow().forEach((value, index) => {
      inputs()[index].value = String(value);
    });
    classifyOne(event);
  });
  document.getElementById("csv-form").addEventListener("submit", classifyMany);
  document.getElementById("random-rows").addEventListener("click", () => {
    document.getElementById("csv").value = Array.from({ length: 5 }, () => randomRow().join(",")).join("\n");
  });
  document.getElementById("download").addEventListener("click", download);
}
