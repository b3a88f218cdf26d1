"""`semcom sweep`: a grid of evaluations (systems x channels x CSI x SNRs x data sets), on this machine or a Ray
cluster, into a store that keeps every cell's result once.

    semcom sweep sweeps/curves.toml                              # here, in this process
    semcom sweep sweeps/curves.toml --ray-address auto           # on the Ray cluster this machine belongs to
    semcom sweep sweeps/curves.toml --ray-address 10.0.0.5:6379  # or ray://HEAD:10001 through Ray Client
    semcom sweep sweeps/curves.toml --report                     # plots and tables from the store only
    semcom sweep sweeps/curves.toml --missing                    # the cells a run would compute, computing none

A cell is one SNR point of one system on one channel with one CSI, as `semcom eval` computes it; its result is
the same JSON, one file per cell in the store (default results/sweep), named by a digest of what determines it
(sweep/spec.py). A rerun computes only the cells the store lacks, so a sweep that was stopped, lost a machine or
grew a system continues where it is. Plots (PNG) and tables (TABLES.md) are drawn afterwards from the store's cells
of this spec (STORE/report/SPEC-NAME/): cells of other specs or of replaced weights stay in the store, unreported.

Without --ray-address the cells run one after another in this process: nothing to install or start beyond
`pip install`. With it each shard of each cell is a Ray task declaring --num-cpus CPUs (and a GPU when the spec's
device is cuda); the spec's `shards` splits a large data set's images over several tasks, whose results merge
exactly (PSNR over all images, mIoU from the summed confusion matrices).
"""

from __future__ import annotations

import argparse


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="semcom sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="the sweep's TOML file ([[sweep]] tables; see sweeps/*.toml)")
    p.add_argument("--store", default="results/sweep", help="the results store (default results/sweep)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="run on a Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: in this process)")
    p.add_argument("--num-cpus", type=float, default=1.0, help="CPUs each Ray task reserves (default 1)")
    p.add_argument("--report", action="store_true", help="only draw the plots and tables of the spec's cells the store holds")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--missing", action="store_true",
                   help="only list the cells the store lacks (what a run would compute), one per line, and count them")
    args = p.parse_args(argv)
    if args.report and args.missing:
        p.error("give --report (draw from the store) or --missing (list what it lacks), not both")
    if args.num_cpus <= 0:
        p.error("--num-cpus must be positive")
    return args
