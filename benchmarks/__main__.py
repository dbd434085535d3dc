"""Run every benchmark and print its figures."""

from __future__ import annotations

from . import (
    ami_scale,
    ami_throughput,
    api_latency,
    crm_scale,
    recordings_convert,
    recordings_latency,
    rtp_relay,
    screenpop_latency,
    sip_load,
)

if __name__ == "__main__":
    ami_throughput.main()
    print()
    ami_scale.main()
    print()
    recordings_convert.main()
    print()
    recordings_latency.main()
    print()
    crm_scale.main([])
    print()
    screenpop_latency.main([])
    print()
    api_latency.main([])
    print()
    rtp_relay.main([])
    print()
    sip_load.main()
