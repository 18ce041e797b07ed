"""Bundled data, installed as the package `sparkdelay.data`: the fitted cost model (`model.json`),
the study's workload (`study-workload.yaml`) and the recorded real sweeps (`runs/`, `runs-busy/`).

Commands find these through `sparkdelay.app.bundled`, so they work from any directory.
"""
