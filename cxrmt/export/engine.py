"""ONNX -> TensorRT engine (cxrmt[gpu]; build on the device that will run it).

Precision follows TensorRT's own rules:
  TensorRT >= 11: networks are always strongly typed; FP16 comes from an FP16 ONNX (--fp16 at
                  export writes one). Asking for the FP16 flag with an FP32 ONNX is an error.
  TensorRT 10.x:  an FP16 ONNX builds strongly typed; an FP32 ONNX builds FP32, or FP16 with the
                  builder flag (what JetPack 6 / TRT 10.3 and the DLA need).
"""

import logging
import os
import time

from cxrmt._optional import require
from cxrmt.io.writers import write_bytes
from cxrmt.runtime import engine_cache as cache
from cxrmt.runtime import metadata as md
from cxrmt.runtime.cuda import call, cudart, gpu_identity

log = logging.getLogger(__name__)

GIB = 1 << 30


def trt_major(version: str) -> int:
    return int(version.split(".")[0])


def build_plan(trt_version: str, onnx_precision: str, fp16_flag: bool, dla_core=None) -> dict:
    """How to build: {"strongly_typed", "fp16_flag", "precision"}; raises ValueError for
    combinations this TensorRT cannot do."""
    major = trt_major(trt_version)
    if onnx_precision == "fp16":
        if dla_core is not None and major < 11:
            raise ValueError(f"on TensorRT {trt_version} the DLA path builds from the FP32 ONNX "
                             "with --fp16 (the FP16 builder flag); pass the FP32 ONNX")
        return {"strongly_typed": True, "fp16_flag": False, "precision": "fp16"}
    if fp16_flag or dla_core is not None:
        if major >= 11:
            raise ValueError(f"TensorRT {trt_version} has no FP16 builder flag (strongly typed "
                             "networks only; the DLA needs FP16): build from an FP16 ONNX "
                             "(`cxrmt export MODEL --onnx m.onnx --fp16` writes m.fp16.onnx)")
        return {"strongly_typed": False, "fp16_flag": True, "precision": "fp16"}
    return {"strongly_typed": major >= 11, "fp16_flag": False, "precision": "fp32"}


def build_engine(onnx_path, engine_path, *, fp16_flag=False, dla_core=None, workspace_gib=2.0,
                 timing_cache=None, device=0, force=False) -> dict:
    """Build `engine_path` from `onnx_path` unless an engine with the same cache key is there.

    Returns the sidecar dict. `timing_cache`: a file reused across builds (created if absent).
    """
    trt = require("tensorrt", "gpu")

    if not os.path.isfile(onnx_path):
        raise FileNotFoundError(f"{onnx_path}: no such ONNX file")
    call(cudart().cudaSetDevice(device))
    meta = md.read_onnx_metadata(onnx_path)
    plan = build_plan(trt.__version__, meta.get(md.PREFIX + "precision", "fp32"), fp16_flag,
                      dla_core)
    key = cache.cache_key(md.sha256_file(onnx_path), trt.__version__, gpu_identity(device),
                          plan["precision"], dla_core)
    if not force and cache.is_current(engine_path, key):
        log.info(f"{engine_path}: up to date for this ONNX, GPU and TensorRT (cache hit)")
        return cache.read_sidecar(engine_path)
    t0 = time.perf_counter()
    serialized = _build(trt, onnx_path, plan, dla_core, workspace_gib, timing_cache)
    write_bytes(engine_path, bytes(serialized))
    build = {"onnx": os.fspath(onnx_path), "fp16_flag": plan["fp16_flag"],
             "strongly_typed": plan["strongly_typed"], "workspace_gib": workspace_gib,
             "seconds": round(time.perf_counter() - t0, 1)}
    cache.write_sidecar(engine_path, key, meta, build)
    log.info(f"{engine_path}: built in {build['seconds']} s ({plan['precision']}, TensorRT "
        f"{trt.__version__}, {key['gpu']} sm_{key['compute_capability'].replace('.', '')})")
    return cache.read_sidecar(engine_path)


def adopt_engine(onnx_path, engine_path, *, fp16_flag=False, dla_core=None, device=0,
                 ) -> dict:
    """Write the sidecar for an engine built outside cxrmt (trtexec, trt/*.sh) from
    `onnx_path` on this device, after checking that this TensorRT can load it."""
    trt = require("tensorrt", "gpu")

    for p in (onnx_path, engine_path):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{p}: no such file")
    call(cudart().cudaSetDevice(device))
    with open(engine_path, "rb") as fh:
        if trt.Runtime(trt.Logger(trt.Logger.ERROR)).deserialize_cuda_engine(fh.read()) is None:
            raise ValueError(f"TensorRT {trt.__version__} cannot load {engine_path} on this GPU; "
                             f"build it here with `cxrmt export {onnx_path} --engine "
                             f"{engine_path}`")
    meta = md.read_onnx_metadata(onnx_path)
    plan = build_plan(trt.__version__, meta.get(md.PREFIX + "precision", "fp32"), fp16_flag,
                      dla_core)
    key = cache.cache_key(md.sha256_file(onnx_path), trt.__version__, gpu_identity(device),
                          plan["precision"], dla_core)
    cache.write_sidecar(engine_path, key, meta, {"onnx": os.fspath(onnx_path),
                                                 "fp16_flag": plan["fp16_flag"],
                                                 "built_by": "trtexec (adopted)"})
    log.info(f"{cache.sidecar_path(engine_path)}: sidecar written for {engine_path}")
    return cache.read_sidecar(engine_path)


def _build(trt, onnx_path, plan, dla_core, workspace_gib, timing_cache):
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if plan["strongly_typed"] and trt_major(trt.__version__) < 11:  # implicit from 11 on
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(os.fspath(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"TensorRT's ONNX parser rejected {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * GIB))
    if plan["fp16_flag"]:
        config.set_flag(trt.BuilderFlag.FP16)
    if dla_core is not None:
        _use_dla(trt, builder, config, dla_core)
    cache_obj = _load_timing_cache(config, timing_cache)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT could not build an engine from {onnx_path} (see the "
                           "TensorRT log above)")
    if timing_cache:
        write_bytes(timing_cache, bytes(cache_obj.serialize()))
    return serialized


def _use_dla(trt, builder, config, core: int) -> None:
    """Run what the DLA supports on DLA `core`, the rest on the GPU (Jetson Orin/Xavier)."""
    if builder.num_DLA_cores == 0:
        raise ValueError("--dla given but this device has no DLA (Jetson AGX/NX only)")
    if not 0 <= core < builder.num_DLA_cores:
        raise ValueError(f"--dla {core}: this device has DLA cores 0..{builder.num_DLA_cores - 1}")
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = core
    config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def _load_timing_cache(config, path):
    data = b""
    if path and os.path.isfile(path):
        with open(path, "rb") as fh:
            data = fh.read()
    cache_obj = config.create_timing_cache(data)
    config.set_timing_cache(cache_obj, ignore_mismatch=False)
    return cache_obj
