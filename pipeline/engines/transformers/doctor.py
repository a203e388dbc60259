"""What this machine can run: CUDA devices and free VRAM, physical cores, RAM -> a recommended model.

Pure probing and arithmetic; `ledgerlens doctor` prints it. torch is optional here: without it
(the core install) GPUs are looked up with nvidia-smi.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

from ledgerlens.pipeline.engines.transformers.registry import ModelEntry, Registry
from ledgerlens.pipeline.machine import logical_cores, memory, physical_cores

GIB = 1024**3
# Precision -> the --quant value that gives it on CUDA.
CUDA_QUANT = {"fp16": "none", "int8": "8bit", "int4": "4bit"}
# Measured on a 2-core AVX2/AVX-512 machine with the full-size Qwen2-VL-2B architecture (see README):
# int8 dynamic quantization ~60 s per A4 page at max_pixels 512*28*28; fp32 ~170 s.
CPU_SECONDS_PER_PAGE_2B = {"int8": 60, "fp32": 170}


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    total_gb: float
    free_gb: float


@dataclass(frozen=True)
class Machine:
    gpus: list[Gpu]
    physical_cores: int
    logical_cores: int
    ram_total_gb: float
    ram_available_gb: float
    torch: str | None  # torch version, None when not installed
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Recommendation:
    engine: str
    model: str | None
    quant: str
    device: str
    reason: str
    options: dict[str, object] = field(default_factory=dict)

    def command(self) -> str:
        if self.engine != "transformers" or self.model is None:
            return "ledgerlens process INTAKE   # the default ocr engine"
        return f"ledgerlens process INTAKE --engine transformers --model {self.model} --quant {self.quant}"


def _gpus_from_torch() -> tuple[list[Gpu], str | None]:
    try:
        import torch
    except ImportError:
        return [], None
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            gpus.append(Gpu(i, torch.cuda.get_device_name(i), round(total / GIB, 1), round(free / GIB, 1)))
    return gpus, str(torch.__version__)


def _gpus_from_nvidia_smi() -> list[Gpu]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    query = ["--query-gpu=index,name,memory.total,memory.free", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run([exe, *query], capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        idx, name, total, free = (p.strip() for p in line.split(","))
        gpus.append(Gpu(int(idx), name, round(float(total) / 1024, 1), round(float(free) / 1024, 1)))
    return gpus


def probe() -> Machine:
    gpus, torch_version = _gpus_from_torch()
    notes = []
    if not gpus:
        smi = _gpus_from_nvidia_smi()
        if smi and torch_version is not None:
            notes.append("nvidia-smi sees a GPU but this torch is a CPU build: install the `gpu` extra's CUDA torch")
        gpus = smi
    if torch_version is None:
        notes.append("torch is not installed: `pip install 'ledgerlens[vlm]'` for the transformers engine")
    ram = memory()
    return Machine(gpus, physical_cores(), logical_cores(), ram.total_gb, ram.available_gb, torch_version, notes)


def recommend(machine: Machine, registry: Registry, kind: str = "vision") -> Recommendation:
    """The model of `kind` (vision: reads page images; text: reads the pages' words) that fits."""
    if machine.gpus:
        gpu = max(machine.gpus, key=lambda g: g.free_gb)
        fit = _largest_fit(registry, gpu.free_gb * 0.9, kind)
        if fit is not None:
            entry, precision = fit
            return Recommendation(
                "transformers",
                entry.id,
                CUDA_QUANT[precision],
                f"cuda:{gpu.index}",
                f"{entry.id} at {precision} needs ~{registry.vram_gb(entry)[precision]} GB; "
                f"{gpu.name} has {gpu.free_gb} GB free",
            )
    return _cpu_recommendation(machine, registry, kind)


def _recommendable(entry: ModelEntry) -> bool:
    """Never recommended unasked: families the tests do not load, models that run code from their
    folder, or whose license forbids commercial use (books are a business)."""
    return entry.tested and not entry.trust_remote_code and "non-commercial" not in entry.license.lower()


def _largest_fit(registry: Registry, budget_gb: float, kind: str) -> tuple[ModelEntry, str] | None:
    """Most parameters, then the highest precision; on a tie an instruction model, then the later
    (newer) registry entry."""
    best: tuple[tuple[float, int, bool, int], ModelEntry, str] | None = None
    for order, entry in enumerate(registry.models.values()):
        if not _recommendable(entry) or entry.kind != kind:
            continue
        for rank, precision in enumerate(("fp16", "int8", "int4")):
            if registry.vram_gb(entry)[precision] <= budget_gb:
                key = (entry.params_b, -rank, entry.prompt == "extract-v1", order)
                if best is None or key > best[0]:
                    best = (key, entry, precision)
                break
    return (best[1], best[2]) if best else None


def _cpu_recommendation(machine: Machine, registry: Registry, kind: str) -> Recommendation:
    small = min(
        (e for e in registry.models.values() if _recommendable(e) and e.kind == kind),
        key=lambda e: (e.params_b, e.family != "qwen2_vl" or e.prompt != "extract-v1"),
        default=None,
    )
    # Loading reads fp32 weights before int8 quantization replaces them: the fp32 size is the peak.
    need_gb = small.params_b * 4 * 1.2 + 1 if small else float("inf")
    options = {"device": "cpu", "dtype": "float32", "threads": machine.physical_cores, "max_pixels": 512 * 28 * 28}
    if small is None or machine.torch is None or machine.ram_available_gb < need_gb:
        why = "torch is not installed"
        if machine.torch is not None:
            why = f"{machine.ram_available_gb} GB RAM available, the smallest model needs ~{need_gb:.0f} GB to load"
        return Recommendation("ocr", None, "none", "cpu", f"no CUDA GPU; {why}: the ocr engine is the fit", options)
    if kind == "text":
        return Recommendation(
            "transformers",
            small.id,
            "int8",
            "cpu",
            f"no CUDA GPU: the smallest text model with int8 dynamic quantization, {machine.physical_cores} "
            "threads; it reads the pages' words (text layer or OCR), not the images: the fit for born-digital "
            "PDFs (`make bench-text` measures seconds per page)",
            {"device": "cpu", "dtype": "float32", "threads": machine.physical_cores},
        )
    per_page = CPU_SECONDS_PER_PAGE_2B["int8"] * max(1.0, 2 / machine.physical_cores)
    return Recommendation(
        "transformers",
        small.id,
        "int8",
        "cpu",
        f"no CUDA GPU: the smallest model with int8 dynamic quantization, {machine.physical_cores} threads "
        f"(one per physical core), pages at most 512*28*28 pixels; expect ~{per_page:.0f} s per page "
        f"(bf16 is slower than fp32 on most CPUs; larger models take minutes per page)",
        options,
    )
