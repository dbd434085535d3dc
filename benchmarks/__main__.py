"""Run every benchmark and print its figures."""

from __future__ import annotations

from . import ami_scale, ami_throughput

if __name__ == "__main__":
    ami_throughput.main()
    print()
    ami_scale.main()
