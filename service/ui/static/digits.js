// The digits panel: a drawing pad (mouse, touch, pen), a drop zone, and the answer with the 8x8
// picture the model saw.
import { percent, postImage, showError } from "./api.js";

const PAD_SIZE = 256;
const STROKE_WIDTH = 20;
const DEBOUNCE_MS = 250;
const ENDPOINT = "digits/image?explain=1";

export function setUpDigits() {
  const pad = document.getElementById("pad");
  const context = pad.getContext("2d");
  const strokes = [];
  let current = null;
  let timer = 0;
  let latest = 0; // answers to older requests are dropped

  function paint() {
    context.fillStyle = "#000";
    context.fillRect(0, 0, PAD_SIZE, PAD_SIZE);
    context.strokeStyle = context.fillStyle = "#fff";
    context.lineWidth = STROKE_WIDTH;
    context.lineCap = context.lineJoin = "round";
    for (const stroke of strokes) {
      context.beginPath();
      context.moveTo(stroke[0].x, stroke[0].y);
      if (stroke.length === 1) context.lineTo(stroke[0].x + 0.1, stroke[0].y);
      for (const point of stroke.slice(1)) context.lineTo(point.x, point.y);
      context.stroke();
    }
  }

  function at(event) {
    const box = pad.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * PAD_SIZE) / box.width,
      y: ((event.clientY - box.top) * PAD_SIZE) / box.height,
    };
  }

  function soon() {
    clearTimeout(timer);
    result().dataset.pending = "drawing"; // cleared when the answer to the latest picture is shown
    timer = setTimeout(() => pad.toBlob((blob) => ask(blob, "your drawing", "drawing.png"), "image/png"), DEBOUNCE_MS);
  }

  async function ask(blob, source, filename) {
    const ticket = ++latest;
    clearTimeout(timer);
    result().dataset.pending = "asking";
    setBusy(true);
    try {
      const answer = await postImage(ENDPOINT, blob, filename);
      if (ticket === latest) showAnswer(answer, source);
    } catch (error) {
      if (ticket === latest) showFailure(error.message);
    } finally {
      if (ticket === latest) {
        setBusy(false);
        delete result().dataset.pending;
      }
    }
  }

  pad.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    try {
      pad.setPointerCapture(event.pointerId); // keep the stroke when the pen leaves the pad
    } catch {
      // a pointer the browser no longer knows of: draw without capturing it
    }
    current = [at(event)];
    strokes.push(current);
    paint();
    soon();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!current) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const each of events.length ? events : [event]) current.push(at(each));
    paint();
    soon();
  });
  for (const type of ["pointerup", "pointercancel"]) {
    pad.addEventListener(type, () => {
      current = null;
    });
  }

  function reset() {
    clearTimeout(timer);
    latest++; // an answer still on its way is for a picture that is gone
    setBusy(false);
    clearAnswer();
  }

  function undo() {
    strokes.pop();
    paint();
    if (strokes.length) soon();
    else reset();
  }
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("digits").addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "z" && event.target.tagName !== "INPUT") {
      event.preventDefault();
      undo();
    }
  });
  document.getElementById("clear").addEventListener("click", () => {
    strokes.length = 0;
    paint();
    reset();
  });
  setUpDrop((file) => ask(file, file.name, file.name));
  paint();
  clearAnswer();
}

function setUpDrop(onFile) {
  const zone = document.getElementById("drop");
  const input = document.getElementById("file");
  const preview = document.getElementById("preview");
  function take(file) {
    if (!file) return;
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    onFile(file);
  }
  preview.addEventListener("error", () => {
    preview.hidden = true; // not a picture the browser can show either; the answer says why
  });
  input.addEventListener("change", () => take(input.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    take(event.dataTransfer.files[0]);
  });
}

const result = () => document.getElementById("digit-result");

function setBusy(busy) {
  result().setAttribute("aria-busy", String(busy));
}

function clearAnswer() {
  result().dataset.state = "empty";
  delete result().dataset.pending;
  showError(document.getElementById("digit-error"), "");
  document.getElementById("digit-label").textContent = "";
  document.getElementById("digit-unsure").hidden = true;
  document.getElementById("digit-source").textContent = "Draw or drop a digit to see what the model answers.";
  showBars(new Array(10).fill(0), -1);
  showSeen(null);
}

function showFailure(message) {
  clearAnswer();
  result().dataset.state = "error";
  showError(document.getElementById("digit-error"), message);
  document.getElementById("digit-source").textContent = "No answer for this picture.";
}

function showAnswer(answer, source) {
  const probabilities = answer.probabilities[0];
  const label = answer.labels[0];
  showError(document.getElementById("digit-error"), "");
  document.getElementById("digit-label").textContent = String(label);
  const unsure = Boolean(answer.unsure && answer.unsure[0]);
  document.getElementById("digit-unsure").hidden = !unsure;
  const margin = answer.margins ? `, margin ${percent(answer.margins[0])}` : "";
  document.getElementById("digit-source").textContent = `From ${source}: ${percent(probabilities[label])} sure${margin}. Model ${answer.model}.`;
  result().dataset.state = "ready";
  showBars(probabilities, label);
  showSeen(answer.inputs ? answer.inputs[0] : null);
}

function showBars(probabilities, top) {
  const list = document.getElementById("digit-bars");
  list.replaceChildren(
    ...probabilities.map((probability, digit) => {
      const item = document.createElement("li");
      item.dataset.probability = String(probability);
      item.classList.toggle("best", digit === top);
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = String(digit);
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.width = `${Math.max(0, Math.min(1, probability)) * 100}%`;
      track.append(fill);
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = percent(probability);
      item.append(name, track, value);
      return item;
    }),
  );
}

function showSeen(grid) {
  const canvas = document.getElementById("seen");
  const context = canvas.getContext("2d");
  const caption = document.getElementById("seen-caption");
  context.fillStyle = "#000";
  context.fillRect(0, 0, canvas.width, canvas.height);
  canvas.dataset.inputs = grid ? JSON.stringify(grid) : "";
  if (!grid) {
    caption.textContent =
      result().dataset.state === "ready"
        ? "This version of the service did not send the picture it saw."
        : "The 8x8 picture the model saw appears here.";
    return;
  }
  const cell = canvas.width / grid.length;
  grid.forEach((row, y) =>
    row.forEach((value, x) => {
      const grey = Math.round((Math.max(0, Math.min(16, value)) / 16) * 255);
      context.fillStyle = `rgb(${grey}, ${grey}, ${grey})`;
      context.fillRect(x * cell, y * cell, cell, cell);
    }),
  );
  caption.textContent = "The 8x8 picture the model saw (grey levels 0 to 16), enlarged.";
}
