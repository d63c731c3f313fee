// The page's entry point: wires the panels, then asks the service for its models, retrying while
// they load (503), so that the model cards and the tabular form's random example use them.
import { call, showError } from "./api.js";
import { showCards } from "./cards.js";
import { setUpDigits } from "./digits.js";
import { setUpTabular, useTabularModel } from "./tabular.js";

const status = document.getElementById("service-status");

async function loadModels(attempt = 0) {
  try {
    const models = await call("models");
    status.textContent = `Ready: ${models.map((model) => model.tag).join(", ")}`;
    status.dataset.state = "ready";
    showError(document.getElementById("cards-error"), "");
    showCards(models);
    useTabularModel(models.find((model) => model.input && model.input.kind === "tabular"));
  } catch (error) {
    const again = error.status === 503 || error.status === 0;
    const seconds = Math.min(30, Math.max(error.retryAfter || 1, 2 ** attempt));
    const message = again ? `${error.message}. Trying again in ${seconds} s.` : error.message;
    status.textContent = message;
    status.dataset.state = "error";
    showError(document.getElementById("cards-error"), message);
    document.getElementById("cards").replaceChildren();
    if (again) setTimeout(() => loadModels(attempt + 1), seconds * 1000);
  }
}

setUpDigits();
setUpTabular();
loadModels();
