// The page of `rgou serve`: draws the board from /api/info, plays through the JSON API, shows hints and reviews.
"use strict";

const CELL = 70;           // board square, in SVG units
const PAD = 10;            // margin around the board
const PIECE_R = 24;
const WAITING_COL = 4;     // the gap in each player's row holds the pieces waiting to enter...
const FINISHED_COL = 5;    // ...and those borne off
const AGENT_DELAY_MS = new URLSearchParams(location.search).has("fast") ? 0 : 400;
const BUSY_RETRY_MS = Math.max(AGENT_DELAY_MS, 50);  // the agent's next look while a request is under way
const SVG_NS = "http://www.w3.org/2000/svg";

let info = null;      // /api/info
let game = null;      // the game's state, as the API returns it
let hint = null;      // /hint of the current position, shown until the position changes
let review = null;    // /review of the game, while the review is open
let step = 0;         // the position shown in the review: before turn step + 1
let busy = false;     // a request is under way
let agentTimer = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function h(tag, text = "", attrs = {}) {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

// body: an object (sent as JSON) or a string of JSON sent as it is; raw: return the answer's text unparsed.
// A game record goes both ways as text: its seed may be above 2**53, which a JavaScript number would round.
async function api(method, path, body, raw = false) {
  const options = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try { message = JSON.parse(text).error || message; } catch (e) { /* not JSON: the status says it */ }
    throw new Error(message);
  }
  return raw ? text : JSON.parse(text);
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

const pct = (p) => `${(100 * p).toFixed(1)}%`;
// "you" against an agent; "player N" for two people at one board (both are "human"), else the agent's name.
const playerName = (player) => {
  if (!game || game.opponent === "human") return `player ${player}`;
  return game.players[player - 1] === "human" ? "you" : game.players[player - 1];
};

// The board.

function cellOf(square) {
  for (let row = 0; row < 3; row++) {
    const col = info.board.rows[row].indexOf(square);
    if (col >= 0) return { row, col };
  }
  return null;
}

function centre(row, col) {
  return { x: PAD + col * CELL + CELL / 2, y: PAD + row * CELL + CELL / 2 };
}

function pileCentre(player, finished) {
  return centre(player === 1 ? 0 : 2, finished ? FINISHED_COL : WAITING_COL);
}

function squareCentre(player, square) {
  if (square === info.board.off_board) return pileCentre(player, false);
  if (square === info.board.finished) return pileCentre(player, true);
  const cell = cellOf(square);
  return centre(cell.row, cell.col);
}

function drawRosette(svg, x, y) {
  el("circle", { cx: x, cy: y, r: 22, class: "rosette" }, svg);
  for (let k = 0; k < 8; k++) {
    const a = (k * Math.PI) / 4;
    el("circle", { cx: x + 13 * Math.cos(a), cy: y + 13 * Math.sin(a), r: 4, class: "rosette-dot" }, svg);
  }
  el("circle", { cx: x, cy: y, r: 5, class: "rosette-dot" }, svg);
}

function drawBoard(position, moves, lastMove) {
  const svg = $("board");
  svg.replaceChildren();
  const columns = Math.max(...info.board.rows.map((row) => row.length));  // 8, or 12 for the Aseb board
  svg.setAttribute("viewBox", `0 0 ${2 * PAD + columns * CELL} ${2 * PAD + 3 * CELL}`);
  info.board.rows.forEach((row, r) => row.forEach((square, c) => {
    if (square === null) return;
    const { x, y } = centre(r, c);
    el("rect", { x: x - CELL / 2 + 2, y: y - CELL / 2 + 2, width: CELL - 4, height: CELL - 4, rx: 6, class: "square",
      "data-square": square }, svg);
    if (info.board.rosettes.includes(square)) drawRosette(svg, x, y);
    el("text", { x: x - CELL / 2 + 7, y: y - CELL / 2 + 15, class: "square-number" }, svg).textContent = square;
  }));
  if (lastMove && lastMove.move !== null) {
    for (const square of [lastMove.from, lastMove.to]) {
      const { x, y } = squareCentre(lastMove.player, square);
      el("rect", { x: x - CELL / 2 + 3, y: y - CELL / 2 + 3, width: CELL - 6, height: CELL - 6, rx: 6,
        class: "last-move" }, svg);
    }
  }
  const movable = new Map((moves || []).map((m) => [m.from, m]));
  const mover = position.to_move;
  for (const player of [1, 2]) {
    const squares = player === 1 ? position.p1 : position.p2;
    const cls = `p${player}`;
    for (const finished of [false, true]) {
      const count = squares.filter((s) => s === (finished ? info.board.finished : info.board.off_board)).length;
      if (count === 0) continue;
      const { x, y } = pileCentre(player, finished);
      const g = el("g", { "data-testid": `${finished ? "finished" : "waiting"}-${player}` }, svg);
      el("circle", { cx: x, cy: y, r: PIECE_R, class: `piece ${cls}`, opacity: finished ? 0.55 : 1 }, g);
      el("text", { x, y, class: `pile-count ${cls}` }, g).textContent = count;
      if (!finished && player === mover && movable.has(info.board.off_board)) {
        makeMovable(g, x, y, movable.get(info.board.off_board), player);
      }
    }
    squares.forEach((square) => {
      if (square === info.board.off_board || square === info.board.finished) return;
      const { x, y } = squareCentre(player, square);
      const g = el("g", { "data-testid": `piece-${player}-${square}` }, svg);
      el("circle", { cx: x, cy: y, r: PIECE_R, class: `piece ${cls}` }, g);
      if (player === mover && movable.has(square)) makeMovable(g, x, y, movable.get(square), player);
    });
  }
}

function makeMovable(g, x, y, move, player) {
  const svg = $("board");
  g.classList.add("movable");
  g.setAttribute("data-move", move.move);
  g.setAttribute("role", "button");
  g.setAttribute("aria-label", move.text);
  el("circle", { cx: x, cy: y, r: PIECE_R + 5, class: "ring" }, g);
  el("title", {}, g).textContent = move.text;
  if (hint) {
    const judged = hint.moves.find((m) => m.move === move.move);
    if (judged) el("text", { x, y: y - PIECE_R - 8, class: "hint-label" }, g).textContent = pct(judged.chance);
  }
  let target = null;
  g.addEventListener("mouseenter", () => {
    const t = squareCentre(player, move.to);
    target = el("circle", { cx: t.x, cy: t.y, r: PIECE_R + 2, class: "target" }, svg);
  });
  g.addEventListener("mouseleave", () => { if (target) target.remove(); target = null; });
  g.addEventListener("click", () => play(move.move));
}

function drawDice(roll) {
  const svg = $("dice");
  svg.replaceChildren();
  for (let k = 0; k < 4; k++) {
    const x = 8 + k * 48;
    el("polygon", { points: `${x},40 ${x + 36},40 ${x + 18},6`, class: "die" }, svg);
    if (roll !== null && roll !== undefined && k < roll) el("circle", { cx: x + 18, cy: 12, r: 4, class: "die-mark" }, svg);
  }
}

// The game.

function statusText() {
  if (!game) return "";
  if (game.opponent === null) return game.note;
  if (game.over) {
    const who = playerName(game.winner);
    const then = info.hints ? " Open the review to see how the game went." : "";  // no review without hints
    return `${who === "you" ? "You win" : `${who} wins`}!${then}`;
  }
  const who = playerName(game.to_move);
  const last = game.played ? game.log.slice(-game.played) : [];  // the turns the last request played
  const passed = last.filter((t) => t.move === null && (game.opponent === "human" || t.player === game.human));
  const passNote = passed.length ? `(${playerName(passed[0].player)} rolled ${passed[0].roll}: no move, the turn passed) ` : "";
  if (game.roll === null) {
    if (!game.persons_turn) return `${passNote}${who} to roll...`;
    return `${passNote}${who === "you" ? "Your" : `${who}'s`} turn: ${game.dice === "auto" ? "roll the dice" : "type the roll"}.`;
  }
  return `${who === "you" ? "You" : who} rolled ${game.roll}: click a highlighted piece.`;
}

function render() {
  if (!game) return;
  const live = review === null;
  $("review-panel").hidden = live;
  if (live) {
    drawBoard(game, busy ? [] : game.moves, game.log[game.log.length - 1]);  // no clicks while a request runs
    drawDice(game.roll !== null ? game.roll : (game.log.length ? game.log[game.log.length - 1].roll : null));
  }
  $("status").textContent = live ? statusText() : `Reviewing: ${review.players.join(" vs ")}`;
  const canRoll = live && game.opponent !== null && !game.over && game.roll === null;
  const manual = game.dice === "manual";
  $("roll").hidden = manual;
  $("roll").disabled = busy || !canRoll || !game.persons_turn;
  $("manual-roll").hidden = !(manual && canRoll);
  $("manual-label").textContent = `roll for ${playerName(game.to_move)}:`;
  for (const b of document.querySelectorAll("#manual-roll button")) b.disabled = busy;
  $("undo").disabled = busy || !live || !game.can_undo;
  $("hint").disabled = busy || !live || game.opponent === null || game.over || !info.hints;
  $("save").disabled = busy;
  $("review").disabled = busy || game.turns === 0 || !info.hints;
  renderHint();
  renderLog();
}

function renderHint() {
  const panel = $("hint-panel");
  panel.hidden = hint === null || review !== null;
  if (panel.hidden) return;
  $("hint-kind").textContent = hint.exact ? "(exact)" : "(estimated)";
  const mover = game.to_move;
  const before = mover === 1 ? hint.p1_before_roll : 1 - hint.p1_before_roll;
  $("hint-position").textContent = `${playerName(mover) === "you" ? "Your" : `Player ${mover}'s`} chance of winning`
    + ` before the roll: ${pct(before)}` + (hint.moves.length ? "; after each move:" : ".");
  const list = $("hint-moves");
  list.replaceChildren();
  for (const m of hint.moves) {
    const item = h("li", `${m.text}: ${pct(m.chance)}${m.move === hint.best_move ? " (best)" : ""}`);
    if (m.move === hint.best_move) item.classList.add("best");
    list.appendChild(item);
  }
}

function turnText(turn) {
  const who = playerName(turn.player);
  return turn.move === null ? `${who} rolled ${turn.roll}: no move` : `${who} rolled ${turn.roll}: ${turn.text}`;
}

function renderLog() {
  const log = $("log");
  const items = game.log.map((t) => turnText(t));
  const key = `${game.id}:${items.length}:${items[items.length - 1] || ""}`;
  if (log.dataset.key === key) return;  // unchanged (an undo then a new move of the same length changes the last)
  log.replaceChildren(...items.map((text) => h("li", text)));
  log.dataset.key = key;
  log.scrollTop = log.scrollHeight;
}

async function request(method, path, body, raw = false) {
  if (busy) return null;
  busy = true;
  showError("");
  render();
  try {
    return await api(method, path, body, raw);
  } catch (e) {
    showError(e.message);
    return null;
  } finally {
    busy = false;
  }
}

async function update(method, path, body) {
  const state = await request(method, path, body);
  if (state !== null) {
    game = state;
    hint = null;
  }
  render();
  if (state !== null) scheduleAgent();  // after an error the page waits for the person, not a retry loop
}

function scheduleAgent(delay = AGENT_DELAY_MS) {
  clearTimeout(agentTimer);
  if (!game || review !== null || game.over || game.opponent === null || game.opponent === "human") return;
  if (!game.persons_turn && game.roll === null && game.dice === "auto") {
    // a request under way (a hint, a save) would refuse the roll: wait for it, then look again
    agentTimer = setTimeout(
      () => (busy ? scheduleAgent(BUSY_RETRY_MS) : update("POST", `/api/games/${game.id}/roll`, {})), delay);
  }
}

const play = (slot) => update("POST", `/api/games/${game.id}/move`, { move: slot });

async function newGame(settings) {
  review = null;
  await update("POST", "/api/games", settings);
}

async function showHint() {
  const result = await request("GET", `/api/games/${game.id}/hint`);
  hint = result;
  render();
}

// Save and load.

async function save() {
  const record = await request("GET", `/api/games/${game.id}/record`, undefined, true);  // the text as served
  render();
  if (record === null) return;
  const blob = new Blob([record], { type: "application/json" });
  const link = document.createElement("a");
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, "");
  link.href = URL.createObjectURL(blob);
  link.download = `rgou-game-${stamp}.json`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function load(file) {
  const text = await file.text();
  try {
    JSON.parse(text);  // only to say early what is wrong; the server reads the text itself
  } catch (e) {
    showError(`${file.name}: not a JSON file`);
    return;
  }
  review = null;
  await update("POST", "/api/games/load", `{"record": ${text}}`);
}

// The review.

async function openReview() {
  const result = await request("GET", `/api/games/${game.id}/review`);
  if (result === null) { render(); return; }
  review = result;
  hint = null;
  clearTimeout(agentTimer);
  $("review-kind").textContent = review.exact ? "(exact)" : "(estimated)";
  $("review-source").textContent = `Winning chances: ${review.exact ? "exact, from " : "estimates, not exact: "}${review.source}.`;
  renderSummary();
  renderGraph();
  renderMoves();
  $("step").max = review.positions.length - 1;
  setStep(review.positions.length - 1);
  render();
  $("review-panel").scrollIntoView({ behavior: "smooth", block: "start" });
}

function renderSummary() {
  const table = $("review-summary");
  table.replaceChildren();
  const names = review.category_names;
  const head = h("tr");
  for (const title of ["", "accuracy", ...names]) head.appendChild(h("th", title));
  table.appendChild(head);
  for (const s of review.summaries) {
    const row = h("tr", "", { "data-testid": `summary-${s.player}` });
    row.appendChild(h("th", `player ${s.player} (${s.name})`));
    row.appendChild(h("td", s.accuracy === null ? "-" : s.accuracy.toFixed(1)));
    for (const name of names) row.appendChild(h("td", String(s.counts[name])));
    table.appendChild(row);
  }
}

function renderGraph() {
  const svg = $("review-graph");
  svg.replaceChildren();
  const w = 640, ht = 200, left = 34, bottom = 18, n = review.p1_chances.length;
  const x = (k) => left + (k * (w - left - 6)) / Math.max(1, n - 1);
  const y = (p) => 6 + (1 - p) * (ht - bottom - 6);
  for (const p of [0, 0.5, 1]) {
    el("line", { x1: left, x2: w - 6, y1: y(p), y2: y(p), stroke: "#cdbb98", "stroke-dasharray": p === 0.5 ? "4 3" : "" }, svg);
    el("text", { x: 2, y: y(p) + 4, "font-size": 11, fill: "#6d5b47" }, svg).textContent = `${100 * p}%`;
  }
  const points = review.p1_chances.map((p, k) => `${x(k).toFixed(1)},${y(p).toFixed(1)}`).join(" ");
  el("polyline", { points, fill: "none", stroke: "#1f4e79", "stroke-width": 2, "data-testid": "graph-line" }, svg);
  for (const d of review.decisions) {
    if (d.category === "mistake" || d.category === "blunder") {
      el("circle", { cx: x(d.turn), cy: y(review.p1_chances[d.turn]), r: 4,
        fill: d.category === "blunder" ? "#c0392b" : "#e67e22" }, svg);
    }
  }
  el("line", { id: "graph-cursor", x1: x(step), x2: x(step), y1: 4, y2: ht - bottom, stroke: "#2f7d5b" }, svg);
  el("text", { x: w / 2, y: ht - 3, "font-size": 11, fill: "#6d5b47", "text-anchor": "middle" }, svg).textContent =
    "turn (player 1's chance of winning)";
  svg.dataset.x0 = x(0);
  svg.dataset.dx = n > 1 ? x(1) - x(0) : 0;
}

function renderMoves() {
  const table = $("review-moves");
  table.replaceChildren();
  const head = h("tr");
  for (const title of ["turn", "player", "roll", "played", "best", "before", "after", "loss", "category"]) {
    head.appendChild(h("th", title));
  }
  table.appendChild(head);
  for (const d of review.decisions) {
    const row = h("tr", "", { "data-turn": d.turn, "data-testid": `review-turn-${d.turn}` });
    const best = d.best_move === d.move || d.loss === 0 ? "" : d.best_text;
    for (const text of [d.turn, d.player, d.roll, d.move_text, best, pct(d.chance_before), pct(d.chance_after),
      d.loss.toFixed(1)]) row.appendChild(h("td", String(text)));
    const cat = h("td");
    cat.appendChild(h("span", d.category, { class: `cat cat-${d.category.replace(" ", "-")}` }));
    row.appendChild(cat);
    row.addEventListener("click", () => setStep(d.turn));
    table.appendChild(row);
  }
}

function setStep(k) {
  step = Math.max(0, Math.min(review.positions.length - 1, k));
  $("step").value = step;
  const position = review.positions[step];
  const last = step > 0 ? review.log[step - 1] : null;
  drawBoard(position, [], last);
  drawDice(last ? last.roll : null);
  const d = review.decisions.find((x) => x.turn === step);
  $("step-label").textContent = step === 0 ? "the start"
    : `after turn ${step}: ${turnText(last)}` + (d ? ` (${d.category}, -${d.loss.toFixed(1)} points)` : "");
  for (const row of document.querySelectorAll("#review-moves tr[data-turn]")) {
    const current = Number(row.dataset.turn) === step;
    row.classList.toggle("current", current);
    if (current) row.scrollIntoView({ block: "nearest" });
  }
  const cursor = document.getElementById("graph-cursor");
  if (cursor) {
    const svg = $("review-graph");
    const x = Number(svg.dataset.x0) + step * Number(svg.dataset.dx);
    cursor.setAttribute("x1", x);
    cursor.setAttribute("x2", x);
  }
}

function closeReview() {
  review = null;
  render();
  scheduleAgent();
}

// Start.

function openSetup() {
  $("setup").showModal();
}

async function start() {
  try {
    info = await api("GET", "/api/info");
  } catch (e) {
    $("status").textContent = `The server does not answer: ${e.message}`;
    return;
  }
  $("version").textContent = info.version;
  $("chances-kind").textContent = !info.hints ? `none (${info.source})`
    : info.exact ? "exact (solved table)" : `estimated (no solved table; model: ${info.model ?? "the shipped one"})`;
  if (info.rules !== "finkel") {
    $("rules-name").textContent = ` (${info.rules} rules)`;
    document.title = `Royal Game of Ur (${info.rules}) - rgou`;
  }
  const select = $("opponent");
  for (const spec of info.agents) {
    const option = h("option", spec === "human" ? "human (two people at one board)" : spec, { value: spec });
    if (spec === info.default_opponent) option.selected = true;
    select.appendChild(option);
  }
  $("new-game").addEventListener("click", openSetup);
  // not a submit button: Enter in the dialog submits with the first one, which must be Start
  $("cancel-setup").addEventListener("click", () => $("setup").close());
  // the seed seeds the server's dice: typed-in dice have none
  $("dice-mode").addEventListener("change", () => { $("seed").disabled = $("dice-mode").value === "manual"; });
  $("setup-form").addEventListener("submit", (event) => {
    const seed = $("seed").disabled ? "" : $("seed").value.trim();
    if (seed !== "" && !(Number.isSafeInteger(Number(seed)) && Number(seed) >= 0)) {
      showError(`seed ${seed}: give a whole number from 0 to ${Number.MAX_SAFE_INTEGER} (or none)`);
      return;
    }
    newGame({ opponent: select.value, human: Number($("side").value), dice: $("dice-mode").value,
      seed: seed === "" ? null : Number(seed) });
  });
  $("roll").addEventListener("click", () => update("POST", `/api/games/${game.id}/roll`, {}));
  for (const b of document.querySelectorAll("#manual-roll button")) {
    b.addEventListener("click", () => update("POST", `/api/games/${game.id}/roll`, { roll: Number(b.dataset.roll) }));
  }
  $("undo").addEventListener("click", () => update("POST", `/api/games/${game.id}/undo`, {}));
  $("hint").addEventListener("click", showHint);
  $("save").addEventListener("click", save);
  $("load-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) load(file);
  });
  $("review").addEventListener("click", openReview);
  $("close-review").addEventListener("click", closeReview);
  $("step").addEventListener("input", (event) => setStep(Number(event.target.value)));
  $("step-back").addEventListener("click", () => setStep(step - 1));
  $("step-forward").addEventListener("click", () => setStep(step + 1));
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || event.target.tagName === "SELECT" || $("setup").open) return;
    if (event.ctrlKey || event.altKey || event.metaKey) return;  // the browser's shortcuts (Ctrl+R reloads)
    if (event.target.id === "load" && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();  // the Load label, focused: open the file chooser as a button would
      $("load-file").click();
      return;
    }
    if (review !== null) {
      if (event.key === "ArrowLeft") setStep(step - 1);
      if (event.key === "ArrowRight") setStep(step + 1);
      return;
    }
    // The game by keyboard: r rolls, 1.. plays the n-th move (the pieces' order on the board), h hint, u undo.
    if (event.key === "r" && !$("roll").disabled && !$("roll").hidden) $("roll").click();
    else if (event.key === "h" && !$("hint").disabled) $("hint").click();
    else if (event.key === "u" && !$("undo").disabled) $("undo").click();
    else if (/^[1-7]$/.test(event.key) && !busy && game && game.moves.length >= Number(event.key)) {
      play(game.moves[Number(event.key) - 1].move);
    }
  });
  await newGame({ opponent: info.default_opponent, human: 1, dice: "auto", seed: null });
}

start();
