#!/usr/bin/env python3
"""Planning benchmark (thin wrapper): see humanoid_core.planning.bench.

.venv/bin/python bench/bench_plan.py --suite config/suites/lab.yaml --json results/plan.json
"""

import sys

from humanoid_core.planning.bench import main

if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
