"""FLOPs that count library calls (bench/measure/flops.py): XLA's cost analysis counts a custom
call it does not know -- a cuBLAS GEMM on a GPU (jax-ml/jax#16008, #22249), LAPACK's eigh on a
CPU -- as -1 FLOP; the GEMMs are counted from their shapes, the rest named as partial."""
from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import pytest

from bench.measure import flops

# a 64 x 256 @ 256 x 128 matmul as XLA:GPU compiles it (the shape of jax 0.4-0.11's text):
# a cuBLAS custom call with a workspace, its dot dimensions in the backend config
GEMM_HLO = """HloModule jit_f, entry_computation_layout={(f32[64,256]{1,0}, f32[256,128]{1,0})->f32[64,128]{1,0}}

%fused_add (p0: f32[64,128], p1: f32[64,128]) -> f32[64,128] {
  %p0 = f32[64,128]{1,0} parameter(0)
  %p1 = f32[64,128]{1,0} parameter(1)
  ROOT %add.1 = f32[64,128]{1,0} add(%p0, %p1)
}

ENTRY %main.4 (Arg_0.1: f32[64,256], Arg_1.2: f32[256,128]) -> f32[64,128] {
  %Arg_0.1 = f32[64,256]{1,0} parameter(0)
  %Arg_1.2 = f32[256,128]{1,0} parameter(1)
  %custom-call.1 = (f32[64,128]{1,0}, s8[4194304]{0}) custom-call(%Arg_0.1, %Arg_1.2), custom_call_target="__cublas$gemm", metadata={op_name="jit(f)/dot_general"}, backend_config={"operation_queue_id":"0","wait_on_operation_queues":[],"gemm_backend_config":{"alpha_real":1,"beta":0,"dot_dimension_numbers":{"lhs_contracting_dimensions":["1"],"rhs_contracting_dimensions":["0"],"lhs_batch_dimensions":[],"rhs_batch_dimensions":[]},"alpha_imag":0,"precision_config":{"operand_precision":["DEFAULT","DEFAULT"],"algorithm":"ALG_UNSET"},"epilogue":"DEFAULT","lhs_stride":"16384","rhs_stride":"32768","grad_x":false,"grad_y":false,"damax_output":false},"force_earliest_schedule":false}
  %get-tuple-element.2 = f32[64,128]{1,0} get-tuple-element(%custom-call.1), index=0
  ROOT %fusion = f32[64,128]{1,0} fusion(%get-tuple-element.2, %get-tuple-element.2), kind=kLoop, calls=%fused_add
}
"""
GEMM = 2 * 64 * 128 * 256  # 2 M N K
ADD = 64 * 128  # what XLA counts of the rest: the fused add
SOLVER = '  %eigh.0 = (f32[8,8]{0,1}, f32[8]{0}, s32[]) custom-call(%Arg_0.1), custom_call_target="cusolver_syevd_ffi"\n'


def compiled(text: str, xla_count: float):
    """A compiled program's stand-in: its HLO text and XLA's cost analysis of it."""
    return types.SimpleNamespace(as_text=lambda: text, cost_analysis=lambda: {"flops": float(xla_count)})


def test_a_gemm_custom_call_is_counted_from_its_shapes():
    (call,) = flops.library_calls(GEMM_HLO)
    assert call == flops.LibraryCall("__cublas$gemm", GEMM)
    printed = GEMM_HLO.replace("custom-call(%Arg_0.1", "custom-call(f32[64,256]{1,0} %Arg_0.1")
    assert flops.library_calls(printed) == [call]  # operand shapes printed inline, or looked up


@pytest.mark.parametrize("unknown", [-1, 0])  # jax#22249: -1 per cuBLAS call; some versions 0
def test_gemms_xla_left_out_are_added_and_a_negative_total_is_fixed(unknown):
    found, why = flops.xla_flops(compiled(GEMM_HLO, ADD + unknown), gemms_counted=lambda device: False)
    assert why is None and found == ADD + unknown + 1 + GEMM
    alone = GEMM_HLO.replace("ROOT %fusion", "%fusion").replace("  %get-tuple-element.2", "  ROOT %get-tuple-element.2")
    found, why = flops.xla_flops(compiled(alone, -1), gemms_counted=lambda device: False)
    assert found == GEMM and why is None  # was (None, "cost_analysis() gave flops=-1.0"): the matmul vanished


def test_gemms_xla_counts_are_not_counted_twice():
    found, why = flops.xla_flops(compiled(GEMM_HLO, ADD + GEMM), gemms_counted=lambda device: True)
    assert found == ADD + GEMM and why is None


def test_a_backend_that_cannot_be_asked_gives_xlas_count_and_says_it_is_partial():
    found, why = flops.xla_flops(compiled(GEMM_HLO, ADD + GEMM), gemms_counted=lambda device: None)
    assert found == ADD + GEMM and why.startswith("partial: 1 library GEMM call(s) left as XLA counts them")


def test_a_library_call_without_a_shape_rule_is_named_and_the_figure_partial():
    text = GEMM_HLO.replace("  %get-tuple-element.2", SOLVER + "  %get-tuple-element.2")
    found, why = flops.xla_flops(compiled(text, ADD - 1 - 1), gemms_counted=lambda device: False)
    assert found == ADD + GEMM
    assert why == ("partial: library calls XLA does not count and esperf cannot count from their shapes: "
                   "cusolver_syevd_ffi x1")


def test_whether_xla_counts_library_gemms_is_asked_of_the_backend_once(monkeypatch):
    monkeypatch.setattr(flops, "_PROBED", {})
    probes = []

    def probe(counted):
        def compile_probe(device):
            probes.append(device)
            return compiled(GEMM_HLO.replace("ROOT %fusion", "%fusion").replace(
                "  %get-tuple-element.2", "  ROOT %get-tuple-element.2"), GEMM if counted else -1)
        return compile_probe

    gpu = types.SimpleNamespace(platform="gpu", device_kind="NVIDIA H100 80GB HBM3")
    assert flops.xla_counts_library_gemms(gpu, probe(False)) is False
    assert flops.xla_counts_library_gemms(gpu, probe(True)) is False and len(probes) == 1  # remembered
    other = types.SimpleNamespace(platform="gpu", device_kind="NVIDIA H200")
    assert flops.xla_counts_library_gemms(other, probe(True)) is True
    # this CPU: a lone dot is no library call, so there is nothing to learn
    assert flops.xla_counts_library_gemms(jax.devices("cpu")[0]) is None


def test_real_cpu_programs_keep_xlas_count_and_name_lapack():
    dot = jax.jit(lambda a, b: a @ b).lower(jnp.ones((32, 32)), jnp.ones((32, 32))).compile()
    assert flops.xla_flops(dot) == (2 * 32 ** 3, None)
    eigh = jax.jit(lambda m: jnp.linalg.eigh(m)[0]).lower(jnp.eye(8)).compile()
    found, why = eigh.cost_analysis()["flops"], flops.xla_flops(eigh)[1]
    assert flops.xla_flops(eigh)[0] == found + 1  # XLA's -1 for the LAPACK call taken back
    assert why.startswith("partial: ") and "lapack_ssyevd_ffi x1" in why
