"""The benchmark runner behind `python -m rgou.bench`.

`cli` holds the section registry (`SECTIONS`), `run` and `main`; `report`
the result types, the performance `TARGETS` and the text, Markdown and machine
report; `timing` the shared `BenchContext`, contention metering and clocks;
`engine` the engine, features, search and self-play sections; `nn` the
trainers, inference and ML agent section; `train` the training runs end to
end; `scale` the memory and scaling sections; `plots` the figures of
--plot (matplotlib, optional).

Conventions:

* every section warms up (JIT-compiles or loads the Numba cache) before it
  times anything; the warm-up time is reported separately;
* every timing is the median over repeats (the nn trainers and GEMM take the
  best); ratios (batched vs one thread, all cores vs one thread) come from
  runs interleaved in the same process;
* positions come from seeded depth-1 self-play (`rgou.selfplay.generate`),
  so they are rolled positions with at least one legal move, distributed as
  in real games.
"""

from rgou.bench.cli import SECTIONS, main, run
from rgou.bench.report import TARGETS

__all__ = ["SECTIONS", "TARGETS", "main", "run"]
