"""The web app's JSON API (`rgou serve`) over real HTTP on loopback: play, undo, hints, records, review, bad input."""

import json
import re
import socket
import threading
import time

import numpy as np
import pytest
from web_helpers import Client, running_server

from rgou.agents import HeuristicAgent, MLAgent
from rgou.chances import ESTIMATE_AGENT
from rgou.game import legal_moves
from rgou.models import load_model
from rgou.notation import BOARD_ROWS
from rgou.record import GameRecord, parse_record
from rgou.rules import NUM_PIECES, ROSETTE_SQUARES
from rgou.web.games import MAX_GAMES_PER_SESSION, MAX_SESSIONS, OTHER_RULES_NOTE, WEB_MAX_TURNS
from rgou.web.server import MAX_BODY, MAX_CONNECTIONS, make_server


@pytest.fixture(scope="module")
def server():
    with running_server() as (_, port, srv):
        yield port, srv


def _state_array(doc: dict) -> np.ndarray:
    state = np.array(doc["p1"] + doc["p2"] + [doc["to_move"], doc["roll"] or 0], np.int8)
    return state


def _play_out(client: Client, game: dict, choose=lambda state, moves: moves[0]["move"]) -> dict:
    """Roll and move until the game ends (the agent's turns are played by the server after its roll)."""
    for _ in range(5000):
        if game["over"]:
            return game
        if game["roll"] is None:
            game = client.ok("POST", f"/api/games/{game['id']}/roll", {})
        else:
            game = client.ok(
                "POST", f"/api/games/{game['id']}/move", {"move": choose(_state_array(game), game["moves"])}
            )
    raise AssertionError("the game did not end")


def test_info_draws_the_board_of_the_rules(server):
    port, _ = server
    info = Client(port).ok("GET", "/api/info")
    assert info["board"]["rows"] == [list(r) for r in BOARD_ROWS]
    assert info["board"]["rosettes"] == sorted(ROSETTE_SQUARES)
    assert "perfect" not in info["agents"] and info["exact"] is False  # no table given to this server
    assert {"random", "heuristic", "ml+", "human"} <= set(info["agents"])


def test_a_whole_game_against_an_agent_matches_the_engine_and_the_agent(server):
    port, _ = server
    client = Client(port)
    game = client.ok("POST", "/api/games", {"opponent": "heuristic", "human": 2, "seed": 11})
    expert = HeuristicAgent()
    replay = GameRecord(("heuristic", "human"), seed=11)
    checked = 0
    while not game["over"]:
        if game["roll"] is None:
            game = client.ok("POST", f"/api/games/{game['id']}/roll", {})
        else:
            state = _state_array(game)
            legal = np.empty(NUM_PIECES, np.int8)
            n = legal_moves(state, legal)
            offered = {m["move"] for m in game["moves"]}
            assert offered <= set(legal[:n].tolist()) and offered, game["moves"]
            game = client.ok("POST", f"/api/games/{game['id']}/move", {"move": max(offered)})
        # every turn the server played is the engine's and, on the agent's turns, the agent's own choice
        for turn in game["log"][len(replay.turns) :]:
            if turn["player"] == 1 and turn["move"] is not None:
                rolled = replay.state.copy()
                rolled[15] = turn["roll"]
                assert turn["move"] == expert.choose_move(rolled)
                checked += 1
            replay.add(turn["roll"], turn["move"])
        np.testing.assert_array_equal(replay.state[:15], _state_array(game)[:15])
    assert checked > 10 and game["winner"] == replay.winner
    record = parse_record(client.ok("GET", f"/api/games/{game['id']}/record"))
    assert record.players == ("heuristic", "human") and record.seed == 11 and record.winner == game["winner"]
    assert len(record.turns) == len(replay.turns)


def test_undo_takes_back_the_persons_move_and_the_same_roll_comes_again(server):
    port, _ = server
    client = Client(port)
    game = client.ok("POST", "/api/games", {"opponent": "random", "seed": 5})
    status, doc = client.call("POST", f"/api/games/{game['id']}/undo", {})
    assert status == 409 and "nothing to undo" in doc["error"]
    for _ in range(6):  # a few turns
        game = (
            client.ok("POST", f"/api/games/{game['id']}/roll", {})
            if game["roll"] is None
            else client.ok("POST", f"/api/games/{game['id']}/move", {"move": game["moves"][-1]["move"]})
        )
    while game["roll"] is None:
        game = client.ok("POST", f"/api/games/{game['id']}/roll", {})
    mine = [k for k, t in enumerate(game["log"]) if t["player"] == 1 and t["move"] is not None]
    roll_at = game["log"][mine[-1]]["roll"]
    undone = client.ok("POST", f"/api/games/{game['id']}/undo", {})
    assert undone["turns"] == mine[-1] and undone["log"] == game["log"][: mine[-1]] and undone["roll"] is None
    again = client.ok("POST", f"/api/games/{game['id']}/roll", {})
    assert again["roll"] == roll_at


def test_a_review_after_an_undo_and_another_move_is_of_the_game_as_it_is(server):
    port, _ = server
    client = Client(port)
    game = client.ok("POST", "/api/games", {"opponent": "human", "seed": 3})
    path = f"/api/games/{game['id']}"
    while True:  # a roll with two moves or more, so that a different move can follow the undo
        game = client.ok("POST", f"{path}/roll", {})
        if game["roll"] is not None and len(game["moves"]) > 1:
            break
        if game["roll"] is not None:
            client.ok("POST", f"{path}/move", {"move": game["moves"][0]["move"]})
    first, other = game["moves"][0]["move"], game["moves"][1]["move"]
    client.ok("POST", f"{path}/move", {"move": first})
    assert client.ok("GET", f"{path}/review")["decisions"][-1]["move"] == first
    client.ok("POST", f"{path}/undo", {})
    client.ok("POST", f"{path}/roll", {})
    game = client.ok("POST", f"{path}/move", {"move": other})
    review = client.ok("GET", f"{path}/review")
    assert review["turns"] == game["turns"] and review["decisions"][-1]["move"] == other
    assert review["log"] == game["log"]


def test_a_hint_is_the_shipped_model_one_ply_deeper(server):
    port, _ = server
    client = Client(port)
    game = client.ok("POST", "/api/games", {"opponent": "human", "seed": 3})
    agent = MLAgent(load_model("default"), depth=1)  # the ml-1 agent: an independent path to the same scores
    assert agent.name == ESTIMATE_AGENT
    for _ in range(12):
        game = client.ok("POST", f"/api/games/{game['id']}/roll", {})
        if game["roll"] is None:  # passed
            continue
        hint = client.ok("GET", f"/api/games/{game['id']}/hint")
        assert hint["exact"] is False and "ml-1" in hint["source"]
        decision = agent.decide(_state_array(game))
        for m in hint["moves"]:
            assert m["chance"] == pytest.approx((decision.scores[m["move"]] + 1) / 2, abs=1e-6)
        assert hint["best_move"] == decision.move
        game = client.ok("POST", f"/api/games/{game['id']}/move", {"move": hint["moves"][0]["move"]})


def test_the_review_of_a_game_covers_every_decision(server):
    port, _ = server
    client = Client(port)
    game = _play_out(client, client.ok("POST", "/api/games", {"opponent": "random", "seed": 9}))
    review = client.ok("GET", f"/api/games/{game['id']}/review")
    assert review["exact"] is False and review["turns"] == game["turns"]
    assert len(review["positions"]) == game["turns"] + 1 and len(review["p1_chances"]) == game["turns"] + 1
    decisions = [k + 1 for k, t in enumerate(game["log"]) if t["move"] is not None]
    assert [d["turn"] for d in review["decisions"]] == decisions
    assert review["p1_chances"][-1] == (1.0 if game["winner"] == 1 else 0.0)


def test_load_continues_a_game_against_an_offered_agent_and_reviews_others(server):
    port, _ = server
    client = Client(port)
    game = client.ok("POST", "/api/games", {"opponent": "ml", "seed": 4})
    for _ in range(3):
        game = client.ok("POST", f"/api/games/{game['id']}/roll", {})
        if game["roll"] is not None:
            game = client.ok("POST", f"/api/games/{game['id']}/move", {"move": game["moves"][0]["move"]})
    record = client.ok("GET", f"/api/games/{game['id']}/record")
    loaded = client.ok("POST", "/api/games/load", {"record": record})
    untimed = [{k: v for k, v in t.items() if k != "thinking_ms"} for t in game["log"]]
    assert loaded["id"] != game["id"] and loaded["log"] == untimed and loaded["opponent"] == "ml"
    client.ok("POST", f"/api/games/{loaded['id']}/roll", {})  # playable on
    # a game of agents the server does not offer (a spec naming a file) is loaded for review, and no file is read
    record["players"] = ["ml:/nonexistent/model.json.gz", "human"]
    other = client.ok("POST", "/api/games/load", {"record": record})
    assert other["opponent"] is None and "review" in other["note"]
    status, doc = client.call("POST", f"/api/games/{other['id']}/roll", {})
    assert status == 409 and "review" in doc["error"]
    assert client.ok("GET", f"/api/games/{other['id']}/review")["turns"] == len(record["turns"])


def test_a_record_of_another_rule_set_is_refused_by_name(server):
    port, _ = server
    record = GameRecord(("human", "heuristic"), seed=2, rules="aseb")
    record.add(record.seeded_roll(), (record.legal_moves(record.seeded_roll()) or [None])[0])
    status, doc = Client(port).call("POST", "/api/games/load", {"record": record.to_json()})
    assert status == 400 and doc["error"] == "a game of the aseb rules: this server plays finkel (rgou serve --rules)"


def test_a_server_of_another_rule_set_plays_it_and_says_what_it_cannot_do():
    with running_server(rules="blitz") as (_, port, _server):
        client = Client(port)
        info = client.ok("GET", "/api/info")
        assert info["rules"] == "blitz" and info["board"]["pieces"] == 5 and not info["hints"]
        assert info["agents"] == ["random", "heuristic", "emm-1", "emm-2", "emm-3", "emm-4", "emm-5", "human"]
        game = client.ok("POST", "/api/games", {"seed": 6})
        assert game["opponent"] == "emm-3" and len(game["p1"]) == 5
        while not game["over"]:
            game = client.ok("POST", f"/api/games/{game['id']}/roll", {})
            if game["moves"]:
                game = client.ok("POST", f"/api/games/{game['id']}/move", {"move": game["moves"][-1]["move"]})
        record = parse_record(client.ok("GET", f"/api/games/{game['id']}/record"))
        assert record.rules == "blitz" and record.winner == game["winner"]
        for path in ("hint", "review"):
            status, doc = client.call("GET", f"/api/games/{game['id']}/{path}")
            assert status == 409 and doc["error"] == (
                "hints and the review under blitz need its solved table (rgou solve --rules blitz) "
                "or a model trained for it (rgou serve --rules blitz --model FILE)"
            )
        status, doc = client.call("POST", "/api/games", {"opponent": "ml"})
        assert status == 400 and "unknown opponent 'ml'" in doc["error"]
        agents = GameRecord(("random", "heuristic"), seed=1, rules="blitz")  # no review here: the note says why
        loaded = client.ok("POST", "/api/games/load", {"record": agents.to_json()})
        assert loaded["opponent"] is None and "review only" not in loaded["note"]
        assert loaded["note"].endswith(OTHER_RULES_NOTE.format(rules="blitz")) and "(the log)" in loaded["note"]


def test_bad_input_gets_a_clear_4xx_and_the_server_goes_on(server):
    port, _ = server
    client = Client(port)
    game = client.ok("POST", "/api/games", {"opponent": "random", "seed": 1})
    gid = game["id"]
    cases = [
        (("POST", "/api/games", {"opponent": "ml:/etc/passwd"}), 400, "unknown opponent"),
        (("POST", "/api/games", {"opponent": "perfect"}), 400, "unknown opponent"),
        (("POST", "/api/games", {"human": 3}), 400, "'human'"),
        (("POST", "/api/games", {"dice": "loaded"}), 400, "'dice'"),
        (("POST", "/api/games", {"seed": -1}), 400, "'seed'"),
        (("POST", "/api/games", {"seed": True}), 400, "'seed'"),
        (("POST", f"/api/games/{gid}/move", {"move": 0}), 409, "roll first"),
        (("POST", f"/api/games/{gid}/roll", {"roll": 3}), 400, "rolled by the server"),
        (("GET", "/api/games/nosuchgame123", None), 404, "no such game"),
        (("GET", "/api/nothing", None), 404, "no such API route"),
        (("DELETE", f"/api/games/{gid}", None), 405, "not allowed"),
        (("PUT", "/api/games", None), 405, "not allowed on /api/games: use POST"),
        (("PATCH", "/api/games", None), 405, "not allowed on /api/games: use POST"),  # PATCH and OPTIONS were 501
        (("OPTIONS", "/api/info", None), 405, "not allowed on /api/info: use GET"),
        (("POST", "/api/info", {}), 405, "not allowed on /api/info: use GET"),
        (("GET", "/api/games/load", None), 405, "use POST"),
        (("POST", "/api/games/load", {"record": {"format": "rgou-game"}}), 400, "not a valid game record"),
        (("POST", "/api/games/load", {}), 400, "missing field 'record'"),
        (("POST", "/api/games/load", {"record": {}, "bogus": 1}), 400, "unknown field 'bogus': this request takes"),
    ]
    for (method, path, body), status, text in cases:
        got, doc = client.call(method, path, body)
        assert got == status and text in doc["error"], (method, path, body, got, doc)
    rolled = client.ok("POST", f"/api/games/{gid}/roll", {})
    while rolled["roll"] is None:
        rolled = client.ok("POST", f"/api/games/{gid}/roll", {})
    for move, text in ((NUM_PIECES, "not legal"), (-1, "not legal"), ("0", "must be an integer")):
        status, doc = client.call("POST", f"/api/games/{gid}/move", {"move": move})
        assert status == 400 and text in doc["error"], doc
    status, doc = client.call("POST", f"/api/games/{gid}/roll", {})
    assert status == 409 and "already rolled" in doc["error"]
    # bodies: not JSON, not an object, too large, not declared JSON, no length
    for body, headers, status, text in [
        (b"{not json", {"Content-Type": "application/json"}, 400, "not valid JSON"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "JSON object"),
        (b'{"a": 1, "a": 2}', {"Content-Type": "application/json"}, 400, "given twice"),
        (b'{"a": NaN}', {"Content-Type": "application/json"}, 400, "NaN"),
        (b"\xff\xfe", {"Content-Type": "application/json"}, 400, "UTF-8"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "application/json"),
    ]:
        got, _, data = client.raw("POST", "/api/games", body, headers)
        assert got == status and text in json.loads(data)["error"], (body[:20], got, data[:200])
    for head, status, text in [
        (f"Content-Length: {MAX_BODY + 1}", 413, "over"),  # refused before the body is read
        ("Transfer-Encoding: chunked", 411, "Content-Length"),
        ("Content-Length: -5", 400, "Content-Length"),
        ("", 411, "Content-Length"),
    ]:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            head = f"{head}\r\n" if head else ""
            request = f"POST /api/games HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{head}\r\n"
            sock.sendall(request.encode())
            answer = sock.makefile("rb").read().decode()
        assert answer.startswith(f"HTTP/1.1 {status}") and text in answer, (head, answer[:300])
    assert client.ok("GET", "/api/info")["board"]  # still serving


def test_files_come_from_the_package_only(server):
    port, _ = server
    client = Client(port)
    status, headers, page = client.raw("GET", "/")
    assert status == 200 and b'<svg id="board"' in page and "text/html" in headers["Content-Type"]
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    for name in ("app.js", "style.css"):
        assert client.raw("GET", f"/static/{name}")[0] == 200
    for path in ("/static/../games.py", "/static/%2e%2e/server.py", "/../../etc/passwd", "/static/", "/static/x.js",
                 "/etc/passwd", "/static//etc/passwd", "/static/app.js/../../__init__.py"):  # fmt: skip
        status, _, data = client.raw("GET", path)
        assert status == 404 and b"no such page" in data, path
    status, _, _ = client.raw("POST", "/", b"{}", {"Content-Type": "application/json"})
    assert status == 405


def test_a_game_answers_its_own_browser_only(server):
    port, _ = server
    alice, bob = Client(port), Client(port)
    game = alice.ok("POST", "/api/games", {"opponent": "random"})
    gid = game["id"]
    for method, path, body in [("GET", "", None), ("POST", "/roll", {}), ("POST", "/move", {"move": 0}),
                               ("POST", "/undo", {}), ("GET", "/hint", None), ("GET", "/record", None),
                               ("GET", "/review", None)]:  # fmt: skip
        status, doc = bob.call(method, f"/api/games/{gid}{path}", body)
        assert status == 403 and "another browser" in doc["error"], (path, status, doc)
    assert alice.ok("GET", f"/api/games/{game['id']}")["id"] == game["id"]


def test_requests_for_another_host_are_refused(server):
    port, _ = server
    status, _, data = Client(port).raw("GET", "/api/info", headers={"Host": "evil.example:80"})
    assert status == 403 and b"this machine only" in data
    assert Client(port).raw("GET", "/api/info", headers={"Host": "localhost"})[0] == 200
    for host in ("", "  "):  # '' bound every interface, and the address printed was http://:PORT/
        with pytest.raises(ValueError, match=r"--host .* is empty; give an address"):
            make_server(host, 0, find_table=False)
    with pytest.raises(TypeError, match="host must be an address"):
        make_server(None, 0, find_table=False)


def test_games_are_isolated_and_bounded_per_browser(server):
    port, _ = server
    results = {}

    def play(name: str, seed: int) -> None:
        client = Client(port)
        game = _play_out(client, client.ok("POST", "/api/games", {"opponent": "random", "seed": seed}))
        results[name] = (seed, client.ok("GET", f"/api/games/{game['id']}/record"))

    threads = [threading.Thread(target=play, args=(f"t{k}", 100 + k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 4
    for seed, record in results.values():
        parsed = parse_record(record)  # each game's rolls are its own seed's
        assert parsed.seed == seed and parsed.winner in (1, 2)
    client = Client(port)
    ids = [client.ok("POST", "/api/games", {"opponent": "random"})["id"] for _ in range(MAX_GAMES_PER_SESSION + 1)]
    assert client.call("GET", f"/api/games/{ids[0]}")[0] == 404  # the oldest went
    assert client.call("GET", f"/api/games/{ids[-1]}")[0] == 200


def test_a_bug_is_a_500_without_a_traceback_and_the_server_goes_on(server, monkeypatch, capsys):
    port, srv = server
    lobby = srv.RequestHandlerClass.lobby

    def broken(game):
        raise RuntimeError("a bug")

    monkeypatch.setattr(lobby, "hint", broken)
    client = Client(port)
    game = client.ok("POST", "/api/games", {"opponent": "random"})
    status, doc = client.call("GET", f"/api/games/{game['id']}/hint")
    assert status == 500 and doc == {"error": "internal error: see the server's log"}
    assert client.ok("GET", "/api/info")["board"]


def test_manual_dice_take_the_roll_typed_in(server):
    port, _ = server
    client = Client(port)
    for body, message in [  # each was accepted: a misspelt field played its default, a seed was dropped
        ({"opponnent": "heuristic"}, "unknown field 'opponnent': this request takes 'opponent', 'human'"),
        ({"dice": "manual", "seed": 5}, "field 'seed' seeds the server's dice; with dice 'manual'"),
    ]:
        status, doc = client.call("POST", "/api/games", body)
        assert status == 400 and message in doc["error"], doc
    game = client.ok("POST", "/api/games", {"opponent": "heuristic", "dice": "manual"})
    assert game["seed"] is None
    status, doc = client.call("POST", f"/api/games/{game['id']}/roll", {"rol": 3})
    assert status == 400 and "unknown field 'rol': this request takes 'roll'" in doc["error"]
    status, doc = client.call("POST", f"/api/games/{game['id']}/roll", {})
    assert status == 400 and "typed in" in doc["error"]
    status, doc = client.call("POST", f"/api/games/{game['id']}/roll", {"roll": 5})
    assert status == 400 and "0..4" in doc["error"]
    game = client.ok("POST", f"/api/games/{game['id']}/roll", {"roll": 4})
    assert game["roll"] == 4 and {m["to"] for m in game["moves"]} == {0}  # enters on the rosette
    game = client.ok("POST", f"/api/games/{game['id']}/move", {"move": game["moves"][0]["move"]})
    game = client.ok("POST", f"/api/games/{game['id']}/roll", {"roll": 0})  # the rosette's extra turn: a 0 passes
    assert game["log"][-1] == {"player": 1, "roll": 0, "move": None} and game["to_move"] == 2


def test_what_a_flood_or_a_slow_client_cannot_do(server):
    """Cookie-less lookups register no browser (a page elsewhere cannot push real games out); a game too long for
    the browser is refused; a bad Content-Length is a 400; connections beyond the cap get a 503 and the server
    serves again once they go."""
    port, _ = server
    owner = Client(port)
    gid = owner.ok("POST", "/api/games", {"opponent": "random"})["id"]
    for _ in range(MAX_SESSIONS + 10):
        assert Client(port).raw("GET", "/api/games/AAAAAAAAAA")[0] == 404
    assert owner.ok("GET", f"/api/games/{gid}")["id"] == gid
    record = GameRecord(("human", "human"))
    for _ in range(WEB_MAX_TURNS + 1):
        record.add(0, None)  # a roll of 0 passes: a legal, endless game
    status, doc = owner.call("POST", "/api/games/load", {"record": record.to_json()})
    assert status == 400 and "at most 1,000" in doc["error"]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall("POST /api/games HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \u00b2\r\n\r\n".encode("latin-1"))
        assert sock.makefile("rb").read().startswith(b"HTTP/1.1 400")
    for headers, answer in [
        ("Host: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 50", b"HTTP/1.1 400"),  # which body?
        ("Host: 127.0.0.1\r\nHost: evil.com\r\nContent-Length: 2", b"HTTP/1.1 400"),
        ("Host: localhost:80@evil.com\r\nContent-Length: 2", b"HTTP/1.1 403"),  # not a port: not this machine
    ]:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(f"POST /api/games HTTP/1.1\r\n{headers}\r\n\r\n{{}}".encode())
            assert sock.makefile("rb").read().startswith(answer), headers
    idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.5)  # every idle connection holds a request slot, waiting for its request line
        status, _, data = Client(port).raw("GET", "/api/info")
        assert status == 503 and json.loads(data) == {"error": "the server is busy: try again soon"}  # whole body
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.5)
    assert owner.ok("GET", "/api/info")["board"]


def test_a_seed_beyond_what_javascript_holds_is_kept_exactly(server):
    port, _ = server
    client = Client(port)
    seed = 2**63 + 12345
    game = client.ok("POST", "/api/games", {"opponent": "random", "seed": seed})
    game = client.ok("POST", f"/api/games/{game['id']}/roll", {})
    status, _, raw = client.raw("GET", f"/api/games/{game['id']}/record")
    assert status == 200 and f'"seed": {seed}'.encode() in raw
    assert parse_record(json.loads(raw)).seed == seed


def test_the_standard_librarys_own_errors_are_json_too(server):
    port, _ = server

    def answer(request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(request)
            return sock.makefile("rb").read()

    head, _, body = answer(b"BREW / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 501") and b"application/json" in head and b"nosniff" in head
    assert "BREW" in json.loads(body)["error"]
    # a line that is no HTTP request: the standard library answers it as HTTP/0.9, a body alone, JSON here too
    assert "Bad request syntax" in json.loads(answer(b"GARBAGE\r\n\r\n"))["error"]


def test_hints_and_reviews_name_the_model_without_the_servers_folders(tmp_path):
    from dataclasses import replace

    from rgou.weights import save_weights

    shipped = load_model("default")
    model = tmp_path / "private" / "models" / "mine.json.gz"
    model.parent.mkdir(parents=True)
    save_weights(model, replace(shipped, metadata={**shipped.metadata, "rules": "blitz"}))
    expected = (
        "no solved table (rgou solve --rules blitz makes one), so the model mine.json.gz searched one ply deeper "
        f"({ESTIMATE_AGENT}) judged every move"
    )
    with running_server(rules="blitz", model=str(model)) as (_, port, _server):
        client = Client(port)
        assert client.ok("GET", "/api/info")["source"] == expected
        game = client.ok("POST", "/api/games", {"seed": 6, "opponent": "human"})
        while game["roll"] is None or not game["moves"]:
            game = client.ok("POST", f"/api/games/{game['id']}/roll", {})
        assert client.ok("GET", f"/api/games/{game['id']}/hint")["source"] == expected
        client.ok("POST", f"/api/games/{game['id']}/move", {"move": game["moves"][0]["move"]})
        assert client.ok("GET", f"/api/games/{game['id']}/review")["source"] == expected


@pytest.mark.parametrize("with_table", [False, True])
def test_a_model_no_agent_can_play_is_refused_as_the_model(tmp_path, with_table):
    from rgou.nn.layout import NetConfig, init_params
    from rgou.weights import Weights, save_weights

    odd = tmp_path / "odd.json"
    value, policy = NetConfig(149, (4,), 1), NetConfig(149, (4,), 7)
    save_weights(odd, Weights(init_params(value, 1), init_params(policy, 2), value, policy, {}))
    table = tmp_path / "missing.table" if with_table else None  # the model is checked first
    with pytest.raises(ValueError, match=re.escape(f"--model: the model {odd}: ML agent needs networks with 150")):
        make_server("127.0.0.1", 0, quiet=True, find_table=False, model=str(odd), table=table)


def test_a_server_of_another_rule_set_offers_perfect_play_from_its_table(tmp_path):
    from rgou.solve import Table, position_count

    values = np.random.default_rng(0).random(position_count(5, "aseb"), dtype=np.float32)
    table = Table(n_pieces=5, values=values, tolerance=1e-7, residual=0.0, rules="aseb")
    with running_server(rules="aseb", table=table) as (_, port, _server):
        client = Client(port)
        info = client.ok("GET", "/api/info")
        assert "perfect" in info["agents"] and info["hints"] and info["exact"]
        game = client.ok("POST", "/api/games", {"seed": 4, "opponent": "perfect", "human": 2})
        turns = 0
        while not game["over"] and turns < 40:
            game = client.ok("POST", f"/api/games/{game['id']}/roll", {})
            if game["moves"]:
                game = client.ok("POST", f"/api/games/{game['id']}/move", {"move": game["moves"][0]["move"]})
            turns += 1
        record = parse_record(client.ok("GET", f"/api/games/{game['id']}/record"))
        assert record.rules == "aseb" and record.players == ("perfect", "human")
        played = [(s, t.move) for s, t in zip(record.positions(), record.turns) if t.player == 1 and t.move is not None]
        assert played and all(move == table.best_move(state) for state, move in played)  # the table's best moves
        review = client.ok("GET", f"/api/games/{game['id']}/review")  # exact, from the rule set's table
        assert review["exact"] and review["decisions"]
        assert all(d["best_move"] == table.best_move(record.positions()[d["turn"] - 1]) for d in review["decisions"])
    with pytest.raises(ValueError, match=r"--table: perfect play under aseb needs .*, got a 5-piece blitz one"):
        make_server("127.0.0.1", 0, table=Table(5, values, 1e-7, 0.0, rules="blitz"), rules="aseb")
