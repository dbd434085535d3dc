"""Run every benchmark and print its figures."""

from __future__ import annotations

from . import ami_scale, ami_throughput, recordings_convert

if __name__ == "__main__":
    ami_throughput.main()
    print()
    ami_scale.main()
    print()
    recordings_convert.main()
