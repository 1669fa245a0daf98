"""Every option mistake stops the run before any benchmark with one clear line."""
import pytest
import torch

from tests.helpers import run_bench


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--ckpt-methods", "pytorch,nope"], "unknown method 'nope'; choose from: pytorch, tensorstore"),
        (["--ckpt-model", "huge"], "--ckpt-model huge: not a preset (tiny, tiny-tied, small, openllama-3b) and no such file"),
        (["--ckpt-model", "{tmp}"], "no weight files in it (looked for model.safetensors, "),
        (["--ckpt-dtype", "float8"], "--ckpt-dtype 'float8': choose from float32, float16, bfloat16"),
        (["--ckpt-device", "tpu"], "--ckpt-device 'tpu': choose from auto, cpu, cuda"),
        pytest.param(["--ckpt-device", "cuda"], "--ckpt-device cuda: PyTorch sees no CUDA device here",
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
        (["--ckpt-durability", "maybe"], "--ckpt-durability 'maybe': choose from fsync, none"),
        (["--ckpt-dir", "{tmp}/missing"], "does not exist; create it"),
        (["--ckpt-dir", "{tmp}/afile"], "is a file, not a directory"),
        (["--ckpt-dir", "/proc"], "cannot create a directory in it"),
    ],
    ids=["method", "preset", "not-a-model", "dtype", "device", "no-cuda", "durability", "dir-missing", "dir-file", "dir-readonly"],
)
def test_bad_option_is_one_usage_line(args, expected, tmp_path):
    (tmp_path / "afile").write_text("x")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = run_bench("--ckpt-model", "tiny", *args, storage=tmp_path / "storage")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "Traceback" not in output
    (line,) = [ln for ln in output.splitlines() if ln.startswith("ERROR:")]
    assert expected in line
    assert not (tmp_path / "storage").exists()
