"""Dense peak TFLOP/s per chip (NVIDIA's datasheets, SXM parts unless named), for the fraction of peak.

float32 updates are compared with the TF32 peak: JAX's default matmul precision lets XLA run
float32 dots on the tensor cores as TF32 on these GPUs. An unknown chip has no peak (None).
"""

from __future__ import annotations

from typing import Optional

# device_kind substring (first match wins) -> TFLOP/s without sparsity
PEAKS = (
    ("H200", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),
    ("H100 PCIe", {"bf16": 756.0, "tf32": 378.0, "fp32": 51.0}),
    ("H100", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),
    ("A100", {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5}),
)
KIND_OF_DTYPE = {"bfloat16": "bf16", "float32": "tf32"}


def lookup(device_kind: str) -> Optional[dict]:
    """{'device_kind', 'bf16', 'tf32', 'fp32'} of the first matching chip, or None."""
    for name, peak in PEAKS:
        if name.lower() in device_kind.lower():
            return {"device_kind": device_kind, "matched": name, **peak}
    return None


def fraction(peak: Optional[dict], compute_dtype: str, tflop_per_s: float) -> dict:
    """The peak a row is measured against and the share of it reached (None without a peak)."""
    kind = KIND_OF_DTYPE[compute_dtype]
    value = peak[kind] if peak else None
    return {"peak_kind": kind, "peak_tflop_per_s": value,
            "fraction_of_peak": tflop_per_s / value if value else None}
