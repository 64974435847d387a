"""Names vulture reports as unused that are used: `python -m vulture rgou tests benchmarks tools/vulture_whitelist.py`.

Each is read by something vulture does not follow: Numba's and signal's calling
conventions, a module's attribute hooks, dataclass fields read through to_array, pytest hooks, a manifest
field written through asdict, and a function the docs call from a shell snippet.
"""

from vulture.whitelist_utils import Whitelist

used = Whitelist()
used.typingctx  # rgou._clock: a Numba intrinsic's arguments (typingctx), its codegen's (context, builder, signature)
used.context
used.signature
used.frame  # signal handlers' (signum, frame)
used.file  # rgou.manifest.Shard.file: a manifest field, written through dataclasses.asdict
used.finished_piece_value  # rgou.heuristic.HeuristicParams fields, read through to_array
used.position_weight
used.rosette_control_bonus
used.advancement_bonus
used.center_lane_bonus
used.preprocess_fields  # Numba's structref hook (rgou.search)
used.jax_device  # docs/training.md: python -c "from rgou.train.runners import jax_device; ..."
used.__getattr__  # rgou/__init__.py: module attribute hooks (PEP 562), called by Python
used.__dir__
used.pytest_configure  # pytest hooks in tests/conftest.py
used.pytest_collection_finish
used.pytest_sessionfinish
used.NAME  # tests/rgou_engine.py: the oracle interface names its engine
used.server_version  # http.server.BaseHTTPRequestHandler's settings and hooks (rgou.web.server.Handler)
used.protocol_version
used.log_message
used.do_GET
used.do_HEAD
used.do_POST
used.do_PUT
used.do_DELETE
used.do_PATCH
used.do_OPTIONS
used.daemon_threads  # socketserver.ThreadingMixIn's settings
used.request_queue_size
used.send_error  # http.server.BaseHTTPRequestHandler's error hook (rgou.web.server.Handler)
used._no_long_solve  # tests/conftest.py: an autouse pytest fixture, called by pytest
used.RULE_DERIVED  # rgou.game: module data rgou.specialise recomputes per rule set, read by name
used._warm_train_flat  # rgou.train.pipeline: the warm-up child process calls it by its "module:function" name
